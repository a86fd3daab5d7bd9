//! Model selection: library and `gmm select`.

use gmm::{
    CovarianceType, Criterion, DataView, ErrorKind, GaussianMixtureParams, Init, ModelSelection,
    Preset,
};

#[test]
fn selection_finds_the_seeds_three_spherical_clusters_and_is_thread_independent() {
    let n = 6000;
    let x = Preset::Seed2d.generate(Some(n), 3);
    let data = DataView::new(&x, n, 2).unwrap();
    let sel = ModelSelection::new(1..=5)
        .covariance_types(CovarianceType::ALL)
        .criterion(Criterion::Bic)
        .params(GaussianMixtureParams::new(1).seed(2));
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| sel.fit(data).unwrap())
    };
    // One thread fits candidates in turn, four in parallel: same result.
    let (a, b) = (run(1), run(4));
    assert_eq!(a.candidates.len(), 20);
    for (x, y) in a.candidates.iter().zip(&b.candidates) {
        assert_eq!(x.model, y.model);
        assert_eq!(x.bic.to_bits(), y.bic.to_bits());
    }
    assert_eq!(a.best, b.best);
    // Candidates in order: K outer, types inner.
    let order: Vec<(usize, CovarianceType)> = a
        .candidates
        .iter()
        .map(|c| (c.n_components, c.covariance_type))
        .collect();
    assert_eq!(order[0], (1, CovarianceType::Full));
    assert_eq!(order[5], (2, CovarianceType::Tied));
    // The seeds' data: three clusters with covariances 4I, I and 0.25I.
    let best = a.best();
    assert_eq!(
        (best.n_components, best.covariance_type),
        (3, CovarianceType::Spherical)
    );
    // The best has the lowest BIC, and the figures are the model's own.
    for c in &a.candidates {
        assert!(best.bic <= c.bic);
        assert_eq!(c.bic, c.model.bic(data).unwrap());
        assert_eq!(c.aic, c.model.aic(data).unwrap());
        assert_eq!(c.n_parameters, c.model.n_parameters());
    }
    // AIC penalises less: it never picks fewer components than BIC here.
    let aic = sel.clone().criterion(Criterion::Aic).fit(data).unwrap();
    assert!(aic.best().n_components >= best.n_components);
    assert_eq!(
        aic.best().aic,
        aic.candidates
            .iter()
            .map(|c| c.aic)
            .fold(f64::INFINITY, f64::min)
    );
}

#[test]
fn selection_refuses_impossible_requests() {
    let x = Preset::Seed2d.generate(Some(50), 3);
    let data = DataView::new(&x, 50, 2).unwrap();
    let e = ModelSelection::new([]).fit(data).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::InvalidParameter { .. }),
        "{e}"
    );
    let e = ModelSelection::new([2])
        .covariance_types([])
        .fit(data)
        .unwrap_err();
    assert!(e.to_string().contains("covariance"), "{e}");
    let given = gmm::fixed_init(data, 2).unwrap();
    let e = ModelSelection::new([2, 3])
        .params(GaussianMixtureParams::new(2).init(Init::Given(given)))
        .fit(data)
        .unwrap_err();
    assert!(e.to_string().contains("initialisation method"), "{e}");
    // A candidate with more components than rows fails the whole selection clearly.
    let e = ModelSelection::new([2, 60]).fit(data).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::TooFewSamples { .. }), "{e}");
    assert!("mdl".parse::<Criterion>().is_err());
}

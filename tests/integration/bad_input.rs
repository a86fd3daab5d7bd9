//! Every bad input gets a typed error, never a panic.

use gmm::{CovarianceType, DataView, ErrorKind, GaussianMixture, GaussianMixtureParams, Init};

use crate::common::*;

fn grid(n: usize, d: usize) -> Vec<f64> {
    (0..n * d)
        .map(|i| ((i * 7919) % 1000) as f64 / 100.0)
        .collect()
}

#[test]
fn non_finite_data_names_the_first_bad_row() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = grid(20_000, 3);
        x[3 * 12_345 + 2] = bad;
        x[3 * 15_000] = bad;
        let data = DataView::new(&x, 20_000, 3).unwrap();
        let e = GaussianMixtureParams::new(2).fit(data).unwrap_err();
        assert_eq!(
            *e.kind(),
            ErrorKind::NonFiniteData {
                row: 12_345,
                column: 2
            }
        );
        assert!(e.to_string().contains("row 12345"), "{e}");
    }
    let x32 = [1.0f32, f32::NAN, 0.0, 1.0];
    let e = GaussianMixtureParams::new(1)
        .fit(DataView::new(&x32, 2, 2).unwrap())
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::NonFiniteData { row: 0, column: 1 });
}

#[test]
fn impossible_shapes_and_parameters() {
    let x = grid(10, 2);
    let data = DataView::new(&x, 10, 2).unwrap();
    let kind = |p: GaussianMixtureParams| p.fit(data).unwrap_err().kind().clone();
    assert!(matches!(
        kind(GaussianMixtureParams::new(0)),
        ErrorKind::InvalidParameter {
            name: "n_components",
            ..
        }
    ));
    assert_eq!(
        kind(GaussianMixtureParams::new(11)),
        ErrorKind::TooFewSamples {
            n_samples: 10,
            n_components: 11
        }
    );
    assert!(matches!(
        kind(GaussianMixtureParams::new(2).tol(-1.0)),
        ErrorKind::InvalidParameter { name: "tol", .. }
    ));
    assert!(matches!(
        kind(GaussianMixtureParams::new(2).tol(f64::NAN)),
        ErrorKind::InvalidParameter { name: "tol", .. }
    ));
    assert!(matches!(
        kind(GaussianMixtureParams::new(2).reg_covar(-1e-6)),
        ErrorKind::InvalidParameter {
            name: "reg_covar",
            ..
        }
    ));
    assert!(matches!(
        kind(GaussianMixtureParams::new(2).n_init(0)),
        ErrorKind::InvalidParameter { name: "n_init", .. }
    ));
    // d = 0, n = 0, wrong length.
    assert_eq!(
        *DataView::<f64>::new(&[], 5, 0).unwrap_err().kind(),
        ErrorKind::NoFeatures
    );
    let empty = DataView::<f64>::new(&[], 0, 3).unwrap();
    assert_eq!(
        *GaussianMixtureParams::new(1).fit(empty).unwrap_err().kind(),
        ErrorKind::EmptyData
    );
    assert!(matches!(
        DataView::new(&x, 3, 2).unwrap_err().kind(),
        ErrorKind::ShapeMismatch { .. }
    ));
}

#[test]
fn bad_initial_parameters() {
    let x = grid(50, 2);
    let data = DataView::new(&x, 50, 2).unwrap();
    // K disagrees.
    let e = GaussianMixtureParams::new(2)
        .init(Init::Given(model(3, 2)))
        .fit(data)
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::DimensionMismatch {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{e}"
    );
    // D disagrees.
    let e = GaussianMixtureParams::new(2)
        .init(Init::Given(model(2, 3)))
        .fit(data)
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::DimensionMismatch {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{e}"
    );
    // Non-finite values, wrong lengths, weights, non-SPD covariances.
    let full = CovarianceType::Full;
    let eye = vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
    let e = GaussianMixture::from_parameters(
        full,
        2,
        2,
        vec![0.5, 0.5],
        vec![0.0, f64::NAN, 1.0, 1.0],
        eye.clone(),
    )
    .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::NonFiniteParameter { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("component 0"));
    let e = GaussianMixture::from_parameters(full, 2, 2, vec![0.5, 0.5], vec![0.0; 3], eye.clone())
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::DimensionMismatch { .. }),
        "{e}"
    );
    let e = GaussianMixture::from_parameters(full, 2, 2, vec![0.5, 0.6], vec![0.0; 4], eye.clone())
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidWeights { .. }), "{e}");
    let e =
        GaussianMixture::from_parameters(full, 2, 2, vec![1.5, -0.5], vec![0.0; 4], eye.clone())
            .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidWeights { .. }), "{e}");
    let indefinite = vec![1.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 1.0];
    let e = GaussianMixture::from_parameters(full, 2, 2, vec![0.5, 0.5], vec![0.0; 4], indefinite)
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::NotPositiveDefinite { component: 1 });
    let asymmetric = vec![1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
    let e = GaussianMixture::from_parameters(full, 2, 2, vec![0.5, 0.5], vec![0.0; 4], asymmetric)
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::NotPositiveDefinite { component: 0 });
}

#[test]
fn collapsing_component_is_a_clear_error() {
    // 40 copies of 0 and 40 spread points near 10; with reg_covar = 0 the
    // component on the copies collapses to zero variance.
    let mut x = vec![0.0; 40];
    x.extend((0..40).map(|i| 10.0 + i as f64 * 0.1));
    let data = DataView::new(&x, 80, 1).unwrap();
    let init = GaussianMixture::from_parameters(
        CovarianceType::Full,
        2,
        1,
        vec![0.5, 0.5],
        vec![0.0, 12.0],
        vec![1.0, 4.0],
    )
    .unwrap();
    let e = GaussianMixtureParams::new(2)
        .init(Init::Given(init.clone()))
        .reg_covar(0.0)
        .max_iter(50)
        .tol(0.0)
        .fit(data)
        .unwrap_err();
    match e.kind() {
        ErrorKind::SingularCovariance {
            component: 0,
            iteration,
            ..
        } => assert!(*iteration >= 1),
        other => panic!("unexpected {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("component 0") && msg.contains("reg_covar"),
        "{msg}"
    );
    // The default reg_covar keeps it finite.
    let fit = GaussianMixtureParams::new(2)
        .init(Init::Given(init))
        .max_iter(50)
        .tol(0.0)
        .fit(data)
        .unwrap();
    assert!((fit.model.covariance_matrix(0)[0] - 1e-6).abs() < 1e-9);
}

#[test]
fn constant_data_needs_reg_covar() {
    // All rows equal: the initial covariances are exactly zero without reg_covar.
    let x = vec![3.0; 20];
    let data = DataView::new(&x, 10, 2).unwrap();
    for init in [
        Init::KMeans,
        Init::KMeansPlusPlus,
        Init::RandomFromData,
        Init::Random,
    ] {
        let e = GaussianMixtureParams::new(2)
            .init(init.clone())
            .reg_covar(0.0)
            .fit(data)
            .unwrap_err();
        // Exactly zero at initialisation, or (random responsibilities: means off
        // by rounding) a variance of ~1e-32 that collapses in the first iteration.
        assert!(
            matches!(
                e.kind(),
                ErrorKind::SingularCovariance {
                    iteration: 0 | 1,
                    ..
                }
            ),
            "{init:?}: {e}"
        );
        // With the default reg_covar the fit is finite; every component that holds
        // the points sits on them with variance reg_covar (an empty one goes to
        // mean 0, as in scikit-learn).
        let fit = GaussianMixtureParams::new(2).init(init).fit(data).unwrap();
        let m = &fit.model;
        assert!(
            m.means()
                .iter()
                .chain(m.covariances())
                .all(|v| v.is_finite())
        );
        for c in (0..2).filter(|&c| m.weights()[c] > 0.1) {
            assert!(
                m.mean(c).iter().all(|v| (v - 3.0).abs() < 1e-12),
                "{:?}",
                m.means()
            );
            assert!((m.covariance_matrix(c)[0] - 1e-6).abs() < 1e-12);
        }
    }
}

#[test]
fn model_queries_check_dimensions() {
    let m = model(2, 3);
    let x = grid(4, 2);
    let data = DataView::new(&x, 4, 2).unwrap();
    assert!(matches!(
        m.predict(data).unwrap_err().kind(),
        ErrorKind::DimensionMismatch { .. }
    ));
    assert!(matches!(
        m.score(data).unwrap_err().kind(),
        ErrorKind::DimensionMismatch { .. }
    ));
}

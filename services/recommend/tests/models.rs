//! The models on small generated data: they learn, they are deterministic, and the ONNX export
//! served by tract scores exactly what candle computes.

use std::io::Write;

use recommend::data::{self, synthetic};
use recommend::ease::Ease;
use recommend::eval::{leave_one_out, Popularity};
use recommend::model::{train, CandleScorer, Config, Kind, Quiet};
use recommend::onnx::{export, TractScorer};

fn small(kind: Kind) -> Config {
    let mut c = Config::new(kind);
    c.factors = 8;
    c.layers = vec![32, 16, 8];
    c.batch = 256;
    c.epochs = 6;
    c.lr = 0.01;
    c.seed = 7;
    c
}

#[test]
fn tract_scores_what_candle_computes_for_every_model() {
    let data = synthetic(60, 80, 4, 12, 1);
    let (tr, val) = data.split_last(20, 3);
    for kind in [Kind::Gmf, Kind::Mlp, Kind::NeuMF, Kind::MfBpr] {
        let mut cfg = small(kind);
        cfg.epochs = 2;
        let t = train(&cfg, &tr, &val, None, &mut Quiet).expect("train");
        let candle = CandleScorer::new(&t.weights).expect("candle");
        let bytes = export(&t.weights).expect("export");
        // a batch that does not divide the request: padding must not leak into the answer
        let tract = TractScorer::load(&bytes, 64, t.weights.n_users, t.weights.n_items).expect("tract");
        let users: Vec<u32> = (0..150).map(|k| (k * 7 % 60) as u32).collect();
        let items: Vec<u32> = (0..150).map(|k| (k * 13 % 80) as u32).collect();
        let a = candle.scores(&users, &items).expect("candle scores");
        let b = tract.scores(&users, &items).expect("tract scores");
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{kind:?}: candle {x} vs tract {y}");
        }
        // out-of-range indices are refused, not read out of bounds
        assert!(tract.scores(&[60], &[0]).is_err());
        assert!(tract.scores(&[0], &[80]).is_err());
    }
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let data = synthetic(40, 50, 4, 10, 2);
    let (tr, val) = data.split_last(20, 3);
    let cfg = small(Kind::NeuMF);
    let a = train(&cfg, &tr, &val, None, &mut Quiet).expect("a");
    let b = train(&cfg, &tr, &val, None, &mut Quiet).expect("b");
    assert_eq!(a.weights.tensors, b.weights.tensors);
    let mut other = cfg.clone();
    other.seed = 8;
    let c = train(&other, &tr, &val, None, &mut Quiet).expect("c");
    assert_ne!(a.weights.tensors, c.weights.tensors);
}

#[test]
fn the_models_learn_the_taste_clusters() {
    let data = synthetic(300, 200, 5, 20, 4);
    let (tr, test) = data.split_last(99, 5);
    let (vtr, val) = tr.split_last(99, 6);
    let pop = leave_one_out(&Popularity::fit(&tr), &test).hr10;
    let ease = leave_one_out(&Ease::fit(&tr, 50.0).expect("ease"), &test).hr10;
    assert!(ease > pop + 0.1, "EASE {ease} vs popularity {pop}");
    for kind in [Kind::NeuMF, Kind::MfBpr] {
        let mut cfg = small(kind);
        cfg.epochs = 15;
        let t = train(&cfg, &vtr, &val, None, &mut Quiet).expect("train");
        let hr = leave_one_out(&CandleScorer::new(&t.weights).expect("scorer"), &test).hr10;
        assert!(hr > pop + 0.1, "{kind:?} {hr} vs popularity {pop}");
        assert!(t.history.len() >= t.best_epoch);
    }
}

#[test]
fn a_refit_without_validation_runs_every_epoch_and_keeps_the_last() {
    let data = synthetic(60, 80, 4, 12, 9);
    let mut cfg = small(Kind::Gmf);
    cfg.epochs = 4;
    cfg.patience = 1;
    let t = train(&cfg, &data, &[], None, &mut Quiet).expect("refit");
    assert_eq!((t.history.len(), t.best_epoch), (4, 4), "no early stop without held-out cases");
    // the kept weights are the last epoch's: training one epoch fewer gives other weights
    let mut shorter = cfg.clone();
    shorter.epochs = 3;
    let s = train(&shorter, &data, &[], None, &mut Quiet).expect("shorter");
    assert_eq!(s.best_epoch, 3);
    assert_ne!(s.weights.tensors, t.weights.tensors);
}

#[test]
fn reads_an_ncf_folder_by_suffix_and_names_bad_lines() {
    let dir = tempfile::tempdir().expect("dir");
    let gz = |name: &str, text: &str| {
        let f = std::fs::File::create(dir.path().join(name)).expect("create");
        let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        e.write_all(text.as_bytes()).expect("write");
        e.finish().expect("finish");
    };
    gz("toy.train.rating.gz", "0\t1\t5\t100\n0\t2\t4\t50\n1\t0\t3\t10\n");
    std::fs::write(dir.path().join("toy.test.rating"), "0\t3\t5\t200\n1\t2\t4\t20\n").expect("write");
    // the positive also among the negatives: the candidate list is a set
    gz("toy.test.negative.gz", "(0,3)\t0\t3\t4\n(1,2)\t3\t4\n");
    let d = data::load(dir.path(), 1).expect("load");
    assert_eq!((d.train.n_users, d.train.n_items), (2, 5));
    assert_eq!(d.train.by_user[0], vec![2, 1], "time order");
    assert_eq!(d.test[0].candidates, vec![0, 3, 4]);
    assert!(!d.sampled);

    std::fs::write(dir.path().join("toy.test.rating"), "0\tx\n").expect("write");
    let err = data::load(dir.path(), 1).expect_err("bad line").to_string();
    assert!(err.contains("toy.test.rating:1") && err.contains("\"x\""), "{err}");

    let empty = tempfile::tempdir().expect("dir");
    let err = data::load(empty.path(), 1).expect_err("no dataset").to_string();
    assert!(err.contains("*.train.rating"), "{err}");
}

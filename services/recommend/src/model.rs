//! Neural collaborative filtering (He et al., WWW 2017) and BPR matrix factorisation, trained on the
//! CPU with candle.
//!
//! - **GMF**: `h · (p_u ⊙ q_i) + b`.
//! - **MLP**: `h · relu(W_L … relu(W_1 [p_u ; q_i] + b_1) … + b_L) + b`.
//! - **NeuMF**: one output layer over the concatenated GMF vector and last MLP layer, each tower with
//!   its own embeddings; optionally initialised from trained GMF and MLP models (α-weighted output).
//! - **MF-BPR**: `p_u · q_i + b_i`, pairwise loss against a sampled negative, L2 on the batch.
//!
//! Pointwise models learn from each positive and `negatives` sampled unobserved items with the
//! log loss. Embedding rows are gathered per batch into leaf tensors and updated with a lazy Adam
//! (only the rows a batch touched, as TensorFlow's LazyAdam); the dense layers use candle's Adam.
//! Everything is seeded: the same data, configuration and seed give the same weights.

use std::collections::BTreeMap;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{Interactions, TestCase};
use crate::eval::{leave_one_out, Metrics, Scorer};
use crate::{RecError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    NeuMF,
    Gmf,
    Mlp,
    #[serde(rename = "mf-bpr")]
    MfBpr,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::NeuMF => "NeuMF",
            Kind::Gmf => "GMF",
            Kind::Mlp => "MLP",
            Kind::MfBpr => "MF-BPR",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    pub kind: Kind,
    /// GMF / MF embedding size (the paper's "predictive factors").
    pub factors: usize,
    /// MLP layer widths; the first is the concatenated embedding width (each embedding is half).
    pub layers: Vec<usize>,
    /// Sampled negatives per positive (pointwise), or per positive pair (BPR: always one per draw,
    /// repeated this many times).
    pub negatives: usize,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    /// L2 weight on the batch's embeddings (BPR) — 0 for the NCF models, as in the paper.
    pub l2: f64,
    pub init_std: f64,
    /// Stop after this many epochs without a better validation HR@10.
    pub patience: usize,
    pub seed: u64,
    /// NeuMF only: α of the pre-trained output layer (when pre-trained towers are given).
    pub alpha: f64,
}

impl Config {
    pub fn new(kind: Kind) -> Self {
        Config {
            kind,
            factors: 64,
            layers: vec![256, 128, 64],
            negatives: 4,
            epochs: 20,
            batch: 2048,
            lr: 0.002,
            l2: if kind == Kind::MfBpr { 1e-4 } else { 0.0 },
            init_std: 0.01,
            patience: 3,
            seed: 42,
            alpha: 0.5,
        }
    }

    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        let mut s = format!("{} factors={}", self.kind.name(), self.factors);
        if matches!(self.kind, Kind::Mlp | Kind::NeuMF) {
            s.push_str(&format!(" layers={:?}", self.layers));
        }
        s.push_str(&format!(" neg={} batch={} lr={} l2={} epochs≤{} seed={}", self.negatives, self.batch, self.lr, self.l2, self.epochs, self.seed));
        s
    }
}

/// A trained model as plain arrays: what is saved, exported to ONNX and loaded for serving.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Weights {
    pub kind: Kind,
    pub n_users: usize,
    pub n_items: usize,
    pub factors: usize,
    pub layers: Vec<usize>,
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Weights {
    pub fn get(&self, name: &str) -> Result<&(Vec<usize>, Vec<f32>)> {
        self.tensors.get(name).ok_or_else(|| RecError::Model(format!("the weights have no tensor {name}")))
    }

    /// The tensor names in the order the ONNX graph and the forward pass use them.
    pub fn embedding_names(kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::NeuMF => &["gmf_user", "gmf_item", "mlp_user", "mlp_item"],
            Kind::Gmf => &["gmf_user", "gmf_item"],
            Kind::Mlp => &["mlp_user", "mlp_item"],
            Kind::MfBpr => &["mf_user", "mf_item"],
        }
    }

}

/// An epoch's figures, for the progress bar, the report and the chart.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Epoch {
    pub epoch: usize,
    pub loss: f64,
    pub val: Metrics,
    pub seconds: f64,
}

#[derive(Clone, Debug)]
pub struct Trained {
    pub weights: Weights,
    pub history: Vec<Epoch>,
    pub best_epoch: usize,
}

/// How a training run reports progress: per batch (fraction of the epoch) and per epoch.
pub trait Progress {
    fn batch(&mut self, _epoch: usize, _done: f64, _loss: f64) {}
    fn epoch(&mut self, _e: &Epoch) {}
}

/// No progress output.
pub struct Quiet;
impl Progress for Quiet {}

/// A progress bar on standard error: `NeuMF epoch 3/20 [#####-----] loss 0.3121 | val HR@10 0.6543`.
pub struct Bar {
    pub label: String,
    pub epochs: usize,
    last: Option<Instant>,
}

impl Bar {
    pub fn new(label: impl Into<String>, epochs: usize) -> Self {
        Bar { label: label.into(), epochs, last: None }
    }
}

impl Progress for Bar {
    fn batch(&mut self, epoch: usize, done: f64, loss: f64) {
        if self.last.is_some_and(|t| t.elapsed().as_millis() < 200) {
            return;
        }
        self.last = Some(Instant::now());
        let w = 30;
        let filled = ((done * w as f64) as usize).min(w);
        eprint!("\r{} epoch {}/{} [{}{}] {:>3.0}% loss {:.4}   ", self.label, epoch, self.epochs, "#".repeat(filled), "-".repeat(w - filled), done * 100.0, loss);
    }
    fn epoch(&mut self, e: &Epoch) {
        // a refit has no held-out cases: no validation figures to show
        let val = if e.val == Metrics::default() { String::new() } else { format!(" | val HR@10 {:.4} NDCG@10 {:.4}", e.val.hr10, e.val.ndcg10) };
        eprintln!("\r{} epoch {}/{} [{}] loss {:.4}{val} | {:.1}s", self.label, e.epoch, self.epochs, "#".repeat(30), e.loss, e.seconds);
    }
}

/// An embedding table updated row by row with lazy Adam.
struct Table {
    dim: usize,
    w: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Table {
    fn new(rows: usize, dim: usize, std: f64, rng: &mut ChaCha8Rng) -> Self {
        let w = (0..rows * dim).map(|_| (normal(rng) * std) as f32).collect();
        Table { dim, w, m: vec![0.0; rows * dim], v: vec![0.0; rows * dim] }
    }

    fn from(dim: usize, w: Vec<f32>) -> Self {
        let n = w.len();
        Table { dim, w, m: vec![0.0; n], v: vec![0.0; n] }
    }

    fn gather(&self, ids: &[u32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(ids.len() * self.dim);
        for &i in ids {
            let s = i as usize * self.dim;
            out.extend_from_slice(&self.w[s..s + self.dim]);
        }
        out
    }

    /// Adds up the gradient rows of repeated ids, then one Adam step on each touched row.
    fn apply(&mut self, ids: &[u32], grad: &[f32], opt: &AdamState) {
        let d = self.dim;
        let mut acc: BTreeMap<u32, Vec<f32>> = BTreeMap::new();
        for (k, &i) in ids.iter().enumerate() {
            let g = &grad[k * d..(k + 1) * d];
            let e = acc.entry(i).or_insert_with(|| vec![0.0; d]);
            for (a, b) in e.iter_mut().zip(g) {
                *a += b;
            }
        }
        for (i, g) in acc {
            let s = i as usize * d;
            for j in 0..d {
                let p = s + j;
                self.m[p] = opt.b1 * self.m[p] + (1.0 - opt.b1) * g[j];
                self.v[p] = opt.b2 * self.v[p] + (1.0 - opt.b2) * g[j] * g[j];
                let mh = self.m[p] / opt.c1;
                let vh = self.v[p] / opt.c2;
                self.w[p] -= opt.lr * mh / (vh.sqrt() + 1e-8);
            }
        }
    }
}

struct AdamState {
    lr: f32,
    b1: f32,
    b2: f32,
    /// bias corrections 1 − β^t
    c1: f32,
    c2: f32,
}

pub(crate) fn normal(rng: &mut impl Rng) -> f64 {
    // Box–Muller
    let u1: f64 = rng.gen::<f64>().max(1e-12);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn glorot(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let a = (6.0 / (rows + cols) as f64).sqrt();
    (0..rows * cols).map(|_| rng.gen_range(-a..a) as f32).collect()
}

/// The dense part of a model (MLP layers and the output layer), as candle variables.
struct Dense {
    names: Vec<String>,
    vars: Vec<Var>,
}

impl Dense {
    fn var(&self, name: &str) -> &Tensor {
        let k = self.names.iter().position(|n| n == name).unwrap_or(0);
        self.vars[k].as_tensor()
    }
}

/// The towers' inputs for one batch: gathered embedding rows as leaf tensors.
struct Gathered {
    names: Vec<&'static str>,
    vars: Vec<Var>,
}

impl Gathered {
    fn get(&self, name: &str) -> &Tensor {
        let k = self.names.iter().position(|n| *n == name).unwrap_or(0);
        self.vars[k].as_tensor()
    }
}

fn t(dev: &Device, shape: &[usize], data: Vec<f32>) -> Result<Tensor> {
    Ok(Tensor::from_vec(data, shape, dev)?)
}

/// The forward pass over gathered embeddings: logits of shape [B].
fn forward(kind: Kind, layers: usize, g: &dyn Fn(&str) -> Tensor, d: &dyn Fn(&str) -> Tensor) -> Result<Tensor> {
    let mlp = |x: Tensor| -> Result<Tensor> {
        let mut x = x;
        for l in 0..layers {
            x = x.matmul(&d(&format!("mlp_w{l}")))?.broadcast_add(&d(&format!("mlp_b{l}")))?.relu()?;
        }
        Ok(x)
    };
    let h = match kind {
        Kind::MfBpr => {
            let s = (g("mf_user") * g("mf_item"))?.sum(1)?;
            return Ok((s + g("mf_bias").squeeze(1)?)?);
        }
        Kind::Gmf => (g("gmf_user") * g("gmf_item"))?,
        Kind::Mlp => mlp(Tensor::cat(&[g("mlp_user"), g("mlp_item")], 1)?)?,
        Kind::NeuMF => {
            let gmf = (g("gmf_user") * g("gmf_item"))?;
            let m = mlp(Tensor::cat(&[g("mlp_user"), g("mlp_item")], 1)?)?;
            Tensor::cat(&[gmf, m], 1)?
        }
    };
    Ok(h.matmul(&d("out_w"))?.broadcast_add(&d("out_b"))?.squeeze(1)?)
}

/// Which embedding table a gathered name reads, and with which ids (users or items).
fn sources(kind: Kind) -> Vec<(&'static str, bool)> {
    match kind {
        Kind::NeuMF => vec![("gmf_user", true), ("gmf_item", false), ("mlp_user", true), ("mlp_item", false)],
        Kind::Gmf => vec![("gmf_user", true), ("gmf_item", false)],
        Kind::Mlp => vec![("mlp_user", true), ("mlp_item", false)],
        Kind::MfBpr => vec![("mf_user", true), ("mf_item", false), ("mf_bias", false)],
    }
}

/// The model being trained.
struct Net {
    cfg: Config,
    n_users: usize,
    n_items: usize,
    tables: BTreeMap<&'static str, Table>,
    dense: Dense,
    dev: Device,
}

impl Net {
    fn new(cfg: &Config, n_users: usize, n_items: usize, init: Option<&(Weights, Weights)>) -> Result<Self> {
        let dev = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed);
        let k = cfg.factors;
        let e = cfg.layers.first().copied().unwrap_or(2 * k) / 2;
        let mut tables = BTreeMap::new();
        let mut names = Vec::new();
        let mut vars = Vec::new();
        let mut dense = |name: String, shape: &[usize], data: Vec<f32>| -> Result<()> {
            vars.push(Var::from_tensor(&t(&dev, shape, data)?)?);
            names.push(name);
            Ok(())
        };
        let std = cfg.init_std;
        let mlp_layers = |dense: &mut dyn FnMut(String, &[usize], Vec<f32>) -> Result<()>, rng: &mut ChaCha8Rng| -> Result<usize> {
            let mut width = 2 * e;
            for (l, &out) in cfg.layers.iter().skip(1).enumerate() {
                dense(format!("mlp_w{l}"), &[width, out], glorot(width, out, rng))?;
                dense(format!("mlp_b{l}"), &[out], vec![0.0; out])?;
                width = out;
            }
            Ok(width)
        };
        match (cfg.kind, init) {
            (Kind::NeuMF, Some((gmf, mlp))) => {
                for (name, src) in [("gmf_user", gmf), ("gmf_item", gmf), ("mlp_user", mlp), ("mlp_item", mlp)] {
                    let (shape, data) = src.get(name)?;
                    tables.insert(name, Table::from(shape[1], data.clone()));
                }
                for l in 0..cfg.layers.len().saturating_sub(1) {
                    for n in [format!("mlp_w{l}"), format!("mlp_b{l}")] {
                        let (shape, data) = mlp.get(&n)?;
                        dense(n, shape, data.clone())?;
                    }
                }
                let a = cfg.alpha as f32;
                let (gs, gw) = gmf.get("out_w")?;
                let (ms, mw) = mlp.get("out_w")?;
                let w: Vec<f32> = gw.iter().map(|x| a * x).chain(mw.iter().map(|x| (1.0 - a) * x)).collect();
                dense("out_w".into(), &[gs[0] + ms[0], 1], w)?;
                let b = a * gmf.get("out_b")?.1[0] + (1.0 - a) * mlp.get("out_b")?.1[0];
                dense("out_b".into(), &[1], vec![b])?;
            }
            (kind, _) => {
                let mut width = 0;
                if matches!(kind, Kind::Gmf | Kind::NeuMF) {
                    tables.insert("gmf_user", Table::new(n_users, k, std, &mut rng));
                    tables.insert("gmf_item", Table::new(n_items, k, std, &mut rng));
                    width += k;
                }
                if matches!(kind, Kind::Mlp | Kind::NeuMF) {
                    tables.insert("mlp_user", Table::new(n_users, e, std, &mut rng));
                    tables.insert("mlp_item", Table::new(n_items, e, std, &mut rng));
                    width += mlp_layers(&mut dense, &mut rng)?;
                }
                if kind == Kind::MfBpr {
                    tables.insert("mf_user", Table::new(n_users, k, std, &mut rng));
                    tables.insert("mf_item", Table::new(n_items, k, std, &mut rng));
                    tables.insert("mf_bias", Table::from(1, vec![0.0; n_items]));
                } else {
                    dense("out_w".into(), &[width, 1], glorot(width, 1, &mut rng))?;
                    dense("out_b".into(), &[1], vec![0.0])?;
                }
            }
        }
        Ok(Net { cfg: cfg.clone(), n_users, n_items, tables, dense: Dense { names, vars }, dev })
    }

    fn layers(&self) -> usize {
        self.cfg.layers.len().saturating_sub(1)
    }

    fn gather(&self, users: &[u32], items: &[u32]) -> Result<Gathered> {
        let mut names = Vec::new();
        let mut vars = Vec::new();
        for (name, is_user) in sources(self.cfg.kind) {
            let tab = &self.tables[name];
            let ids = if is_user { users } else { items };
            vars.push(Var::from_tensor(&t(&self.dev, &[ids.len(), tab.dim], tab.gather(ids))?)?);
            names.push(name);
        }
        Ok(Gathered { names, vars })
    }

    fn logits(&self, g: &Gathered) -> Result<Tensor> {
        forward(self.cfg.kind, self.layers(), &|n| g.get(n).clone(), &|n| self.dense.var(n).clone())
    }

    fn snapshot(&self) -> Result<Weights> {
        let mut tensors = BTreeMap::new();
        for (name, tab) in &self.tables {
            tensors.insert((*name).to_owned(), (vec![tab.w.len() / tab.dim, tab.dim], tab.w.clone()));
        }
        for (name, var) in self.dense.names.iter().zip(&self.dense.vars) {
            let shape = var.as_tensor().dims().to_vec();
            tensors.insert(name.clone(), (shape, var.as_tensor().flatten_all()?.to_vec1::<f32>()?));
        }
        Ok(Weights { kind: self.cfg.kind, n_users: self.n_users, n_items: self.n_items, factors: self.cfg.factors, layers: self.cfg.layers.clone(), tensors })
    }
}

/// log(1 + e^x), stable for large |x|.
fn softplus(x: &Tensor) -> Result<Tensor> {
    Ok((x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?)?)
}

/// Trains a model; `val` (held-out cases) drives early stopping and the per-epoch figures.
pub fn train(cfg: &Config, data: &Interactions, val: &[TestCase], init: Option<&(Weights, Weights)>, progress: &mut dyn Progress) -> Result<Trained> {
    if data.is_empty() {
        return Err(RecError::Data("no interactions to train on".into()));
    }
    if cfg.batch == 0 || cfg.epochs == 0 || cfg.factors == 0 {
        return Err(RecError::Model("batch, epochs and factors must be positive".into()));
    }
    let mut net = Net::new(cfg, data.n_users, data.n_items, init)?;
    let mut dense_opt = AdamW::new(net.dense.vars.clone(), ParamsAdamW { lr: cfg.lr, weight_decay: 0.0, ..Default::default() })?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    // a positive with weight w is drawn round(w) times per epoch (1–4; no weights = once)
    let mut positives: Vec<(u32, u32)> = Vec::with_capacity(data.len());
    for (u, items) in data.by_user.iter().enumerate() {
        for (k, &i) in items.iter().enumerate() {
            let reps = data.weight(u, k).round().clamp(1.0, 4.0) as usize;
            positives.extend(std::iter::repeat_n((u as u32, i), reps));
        }
    }
    let mut history = Vec::new();
    let mut best: Option<(f64, usize, Weights)> = None;
    let mut step = 0i32;
    for epoch in 1..=cfg.epochs {
        let started = Instant::now();
        // the epoch's samples: (user, item, label) or (user, positive, negative) for BPR
        let mut samples: Vec<(u32, u32, u32)> = Vec::with_capacity(positives.len() * (cfg.negatives + 1));
        for &(u, i) in &positives {
            if cfg.kind == Kind::MfBpr {
                for _ in 0..cfg.negatives.max(1) {
                    if let Some(j) = data.negative(u, &mut rng) {
                        samples.push((u, i, j));
                    }
                }
            } else {
                samples.push((u, i, 1));
                for _ in 0..cfg.negatives {
                    if let Some(j) = data.negative(u, &mut rng) {
                        samples.push((u, j, 0));
                    }
                }
            }
        }
        samples.shuffle(&mut rng);
        let (mut loss_sum, mut loss_n) = (0.0f64, 0usize);
        let batches = samples.len().div_ceil(cfg.batch);
        for (b, chunk) in samples.chunks(cfg.batch).enumerate() {
            step += 1;
            let users: Vec<u32> = chunk.iter().map(|s| s.0).collect();
            let opt = AdamState {
                lr: cfg.lr as f32,
                b1: 0.9,
                b2: 0.999,
                c1: 1.0 - 0.9f32.powi(step),
                c2: 1.0 - 0.999f32.powi(step),
            };
            let loss;
            if cfg.kind == Kind::MfBpr {
                let pos: Vec<u32> = chunk.iter().map(|s| s.1).collect();
                let neg: Vec<u32> = chunk.iter().map(|s| s.2).collect();
                let gp = net.gather(&users, &pos)?;
                let gn = net.gather(&users, &neg)?;
                let diff = (net.logits(&gp)? - net.logits(&gn)?)?;
                let main = softplus(&diff.neg()?)?.mean_all()?;
                let n = chunk.len() as f64;
                let reg = ((gp.get("mf_user").sqr()?.sum_all()? + gp.get("mf_item").sqr()?.sum_all()?)? + gn.get("mf_item").sqr()?.sum_all()?)?;
                let total = (&main + (reg * (cfg.l2 / n))?)?;
                let grads = total.backward()?;
                loss = main.to_scalar::<f32>()? as f64;
                // one lazy-Adam step per table, over the rows of both halves of the pairs
                for (name, is_user) in sources(cfg.kind) {
                    let mut ids = Vec::with_capacity(2 * chunk.len());
                    let mut gv = Vec::new();
                    for (g, side) in [(&gp, &pos), (&gn, &neg)] {
                        let k = g.names.iter().position(|n| *n == name).unwrap_or(0);
                        if let Some(gr) = grads.get(g.vars[k].as_tensor()) {
                            gv.extend(gr.flatten_all()?.to_vec1::<f32>()?);
                            ids.extend_from_slice(if is_user { &users } else { side });
                        }
                    }
                    if let Some(tab) = net.tables.get_mut(name) {
                        tab.apply(&ids, &gv, &opt);
                    }
                }
            } else {
                let items: Vec<u32> = chunk.iter().map(|s| s.1).collect();
                let labels: Vec<f32> = chunk.iter().map(|s| s.2 as f32).collect();
                let y = t(&net.dev, &[chunk.len()], labels)?;
                let g = net.gather(&users, &items)?;
                let x = net.logits(&g)?;
                // log loss from logits: softplus(x) − y·x
                let l = (softplus(&x)? - (&x * &y)?)?.mean_all()?;
                let grads = l.backward()?;
                loss = l.to_scalar::<f32>()? as f64;
                dense_opt.step(&grads)?;
                for (k, (name, is_user)) in sources(cfg.kind).into_iter().enumerate() {
                    if let Some(gr) = grads.get(g.vars[k].as_tensor()) {
                        let gv = gr.flatten_all()?.to_vec1::<f32>()?;
                        let ids = if is_user { &users } else { &items };
                        if let Some(tab) = net.tables.get_mut(name) {
                            tab.apply(ids, &gv, &opt);
                        }
                    }
                }
            }
            if !loss.is_finite() {
                return Err(RecError::Model(format!("the loss diverged at epoch {epoch} (lr {} may be too high)", cfg.lr)));
            }
            loss_sum += loss;
            loss_n += 1;
            progress.batch(epoch, (b + 1) as f64 / batches as f64, loss_sum / loss_n as f64);
        }
        let weights = net.snapshot()?;
        let val_m = if val.is_empty() { Metrics::default() } else { leave_one_out(&CandleScorer::new(&weights)?, val) };
        let e = Epoch { epoch, loss: loss_sum / loss_n.max(1) as f64, val: val_m, seconds: started.elapsed().as_secs_f64() };
        progress.epoch(&e);
        history.push(e);
        // without held-out cases (a refit for a known number of epochs) the last epoch is kept
        let better = val.is_empty() || best.as_ref().is_none_or(|(hr, _, _)| val_m.hr10 > *hr);
        if better {
            best = Some((val_m.hr10, epoch, weights));
        } else if best.as_ref().is_some_and(|(_, be, _)| epoch - be >= cfg.patience) {
            break;
        }
    }
    let (_, best_epoch, weights) = best.ok_or_else(|| RecError::Model("no epoch ran".into()))?;
    Ok(Trained { weights, history, best_epoch })
}

/// Scores with candle from saved weights (the reference the ONNX export is checked against).
pub struct CandleScorer {
    kind: Kind,
    layers: usize,
    tables: BTreeMap<String, (usize, Vec<f32>)>,
    dense: BTreeMap<String, Tensor>,
    dev: Device,
}

impl CandleScorer {
    pub fn new(w: &Weights) -> Result<Self> {
        let dev = Device::Cpu;
        let mut tables = BTreeMap::new();
        let mut dense = BTreeMap::new();
        let embedding: Vec<&str> = sources(w.kind).into_iter().map(|s| s.0).collect();
        for (name, (shape, data)) in &w.tensors {
            if embedding.contains(&name.as_str()) {
                tables.insert(name.clone(), (shape[1], data.clone()));
            } else {
                dense.insert(name.clone(), t(&dev, shape, data.clone())?);
            }
        }
        Ok(CandleScorer { kind: w.kind, layers: w.layers.len().saturating_sub(1), tables, dense, dev })
    }

    pub fn scores(&self, users: &[u32], items: &[u32]) -> Result<Vec<f32>> {
        let mut gathered = BTreeMap::new();
        for (name, is_user) in sources(self.kind) {
            let (dim, w) = &self.tables[name];
            let ids = if is_user { users } else { items };
            let mut out = Vec::with_capacity(ids.len() * dim);
            for &i in ids {
                let s = i as usize * dim;
                out.extend_from_slice(&w[s..s + dim]);
            }
            gathered.insert(name, t(&self.dev, &[ids.len(), *dim], out)?);
        }
        let x = forward(self.kind, self.layers, &|n| gathered[n].clone(), &|n| self.dense[n].clone())?;
        Ok(x.to_dtype(DType::F32)?.to_vec1::<f32>()?)
    }
}

impl Scorer for CandleScorer {
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(items.len());
        for (u, i) in users.chunks(65_536).zip(items.chunks(65_536)) {
            match self.scores(u, i) {
                Ok(s) => out.extend(s),
                Err(e) => {
                    tracing::error!(error = %e, "scoring failed");
                    out.extend(std::iter::repeat_n(f32::NEG_INFINITY, i.len()));
                }
            }
        }
        out
    }
}

//! iALS: implicit alternating least squares (Hu, Koren and Volinsky, ICDM 2008) with the
//! frequency-scaled regularisation of Rendle, Krichene, Zhang and Koren, "Revisiting the
//! Performance of iALS on Item Recommendation Benchmarks" (RecSys 2022).
//!
//! Every observed (user, item) pair has target 1 and weight 1; every pair has target 0 and weight
//! `unobserved` (α). One epoch solves each user's embedding exactly with the items fixed, then each
//! item's with the users fixed:
//!
//! `(Σ_{i∈I(u)} v_i v_iᵀ + α·VᵀV + λ(|I(u)| + α·|I|)·I) · w_u = Σ_{i∈I(u)} v_i`
//!
//! The Gramian `VᵀV` makes the unobserved pairs cost one d×d matrix per side instead of one term
//! per pair. The score is the dot product, so a trained model is served like MF-BPR: exported
//! to ONNX (`mf_user`, `mf_item`, a zero `mf_bias`) and scored by tract.

use std::collections::BTreeMap;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{Interactions, TestCase};
use crate::eval::{leave_one_out, Metrics, Scorer};
use crate::model::{normal, Epoch, Kind, Progress, Weights};
use crate::{RecError, Result};

#[derive(Clone, Debug)]
pub struct IalsConfig {
    pub dim: usize,
    /// λ, scaled per row by its number of interactions plus α times the other side's count
    pub reg: f64,
    /// α, the weight of every unobserved pair
    pub unobserved: f64,
    /// initial embeddings are N(0, (stddev / √dim)²)
    pub stddev: f64,
    pub epochs: usize,
    /// epochs without a better validation HR@10 before stopping (with validation cases)
    pub patience: usize,
    pub seed: u64,
}

impl IalsConfig {
    /// Rendle et al.'s published setting for ML-1M on the NCF split (`ials/README.md` of
    /// google-research): 192 dimensions, λ 0.007, α 0.3, stddev 0.1, 12 epochs.
    pub fn ml1m() -> Self {
        IalsConfig { dim: 192, reg: 0.007, unobserved: 0.3, stddev: 0.1, epochs: 12, patience: 3, seed: 42 }
    }

    pub fn describe(&self) -> String {
        format!("dim {} λ {} α {} stddev {} epochs ≤{} seed {}", self.dim, self.reg, self.unobserved, self.stddev, self.epochs, self.seed)
    }
}

/// A trained iALS model: row-major user and item embeddings.
#[derive(Clone)]
pub struct Ials {
    pub dim: usize,
    pub n_users: usize,
    pub n_items: usize,
    users: Vec<f64>,
    items: Vec<f64>,
}

/// A training run: the kept model (best validation epoch, or the last without validation).
pub struct IalsTrained {
    pub model: Ials,
    pub history: Vec<Epoch>,
    pub best_epoch: usize,
}

impl Ials {
    /// The model as MF weights (dot product plus a zero item bias), for the ONNX export.
    pub fn weights(&self) -> Weights {
        let mut tensors = BTreeMap::new();
        tensors.insert("mf_user".to_owned(), (vec![self.n_users, self.dim], self.users.iter().map(|&x| x as f32).collect()));
        tensors.insert("mf_item".to_owned(), (vec![self.n_items, self.dim], self.items.iter().map(|&x| x as f32).collect()));
        tensors.insert("mf_bias".to_owned(), (vec![self.n_items, 1], vec![0.0; self.n_items]));
        Weights { kind: Kind::MfBpr, n_users: self.n_users, n_items: self.n_items, factors: self.dim, layers: Vec::new(), tensors }
    }

    fn dot(&self, u: usize, i: usize) -> f64 {
        let (d, a, b) = (self.dim, &self.users, &self.items);
        a[u * d..(u + 1) * d].iter().zip(&b[i * d..(i + 1) * d]).map(|(x, y)| x * y).sum()
    }

    /// Mean squared error of the observed pairs (target 1): what the progress bar shows as loss.
    fn observed_error(&self, data: &Interactions) -> f64 {
        let (mut s, mut n) = (0.0, 0usize);
        for (u, items) in data.by_user.iter().enumerate() {
            for &i in items {
                s += (1.0 - self.dot(u, i as usize)).powi(2);
                n += 1;
            }
        }
        s / n.max(1) as f64
    }
}

impl Scorer for Ials {
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        users
            .iter()
            .zip(items)
            .map(|(&u, &i)| if (u as usize) < self.n_users && (i as usize) < self.n_items { self.dot(u as usize, i as usize) as f32 } else { f32::NEG_INFINITY })
            .collect()
    }
}

/// Trains on `data`. With validation cases it stops after `patience` epochs without a better
/// validation HR@10 and keeps the best epoch's model; without, it runs `cfg.epochs`.
pub fn train(cfg: &IalsConfig, data: &Interactions, val: &[TestCase], progress: &mut dyn Progress) -> Result<IalsTrained> {
    if data.is_empty() {
        return Err(RecError::Data("no interactions to train on".into()));
    }
    if cfg.dim == 0 || cfg.epochs == 0 || cfg.reg.is_nan() || cfg.reg <= 0.0 || cfg.unobserved.is_nan() || cfg.unobserved < 0.0 {
        return Err(RecError::Model("iALS needs a positive dimension, epochs and λ, and α ≥ 0".into()));
    }
    let (d, nu, ni) = (cfg.dim, data.n_users, data.n_items);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let std = cfg.stddev / (d as f64).sqrt();
    let mut model = Ials {
        dim: d,
        n_users: nu,
        n_items: ni,
        users: (0..nu * d).map(|_| normal(&mut rng) * std).collect(),
        items: (0..ni * d).map(|_| normal(&mut rng) * std).collect(),
    };
    let mut by_item: Vec<Vec<u32>> = vec![Vec::new(); ni];
    for (u, items) in data.by_user.iter().enumerate() {
        for &i in items {
            by_item[i as usize].push(u as u32);
        }
    }
    let mut history = Vec::new();
    let mut best: Option<(f64, usize, Ials)> = None;
    for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        let users = solve_side(&data.by_user, &model.items, ni, d, cfg);
        model.users = users;
        progress.batch(epoch, 0.5, f64::NAN);
        let items = solve_side(&by_item, &model.users, nu, d, cfg);
        model.items = items;
        let vm = if val.is_empty() { Metrics::default() } else { leave_one_out(&model, val) };
        let e = Epoch { epoch, loss: model.observed_error(data), val: vm, seconds: t0.elapsed().as_secs_f64() };
        progress.epoch(&e);
        history.push(e);
        if val.is_empty() {
            continue;
        }
        if best.as_ref().is_none_or(|b| vm.hr10 > b.0) {
            best = Some((vm.hr10, epoch, model.clone()));
        } else if best.as_ref().is_some_and(|b| epoch - b.1 >= cfg.patience) {
            break;
        }
    }
    Ok(match best {
        Some((_, best_epoch, m)) => IalsTrained { model: m, history, best_epoch },
        None => IalsTrained { model, best_epoch: history.len(), history },
    })
}

/// Solves every row of one side with the other side (`other`, `n_other` rows of `d`) fixed.
fn solve_side(rows: &[Vec<u32>], other: &[f64], n_other: usize, d: usize, cfg: &IalsConfig) -> Vec<f64> {
    // the other side's Gramian, times α
    let mut gram = vec![0f64; d * d];
    for r in other.chunks_exact(d) {
        for (a, &x) in r.iter().enumerate() {
            for (g, &y) in gram[a * d..(a + 1) * d].iter_mut().zip(r) {
                *g += x * y;
            }
        }
    }
    for g in &mut gram {
        *g *= cfg.unobserved;
    }
    let mut out = vec![0f64; rows.len() * d];
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get()).min(8);
    let per = rows.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (chunk_rows, chunk_out) in rows.chunks(per).zip(out.chunks_mut(per * d)) {
            let gram = &gram;
            s.spawn(move || {
                let mut lhs = vec![0f64; d * d];
                let mut rhs = vec![0f64; d];
                for (items, w) in chunk_rows.iter().zip(chunk_out.chunks_exact_mut(d)) {
                    if items.is_empty() {
                        // (αG + λα|I|·I)·w = 0: the zero vector
                        w.fill(0.0);
                        continue;
                    }
                    lhs.copy_from_slice(gram);
                    rhs.fill(0.0);
                    for &i in items {
                        let v = &other[i as usize * d..(i as usize + 1) * d];
                        // lower triangle only: Cholesky reads no more
                        for a in 0..d {
                            let x = v[a];
                            for (l, &y) in lhs[a * d..a * d + a + 1].iter_mut().zip(v) {
                                *l += x * y;
                            }
                        }
                        for (r, &y) in rhs.iter_mut().zip(v) {
                            *r += y;
                        }
                    }
                    let reg = cfg.reg * (items.len() as f64 + cfg.unobserved * n_other as f64);
                    for a in 0..d {
                        lhs[a * d + a] += reg;
                    }
                    cholesky_solve(&mut lhs, &mut rhs, d);
                    w.copy_from_slice(&rhs);
                }
            });
        }
    });
    out
}

/// Solves `A·x = b` for a symmetric positive definite `A` given by its lower triangle (row-major,
/// overwritten by the Cholesky factor); `b` becomes `x`.
fn cholesky_solve(a: &mut [f64], b: &mut [f64], n: usize) {
    for j in 0..n {
        let mut s = a[j * n + j];
        for k in 0..j {
            s -= a[j * n + k] * a[j * n + k];
        }
        let l = s.max(1e-12).sqrt();
        a[j * n + j] = l;
        for i in j + 1..n {
            let (ri, rj) = (i * n, j * n);
            let mut s = a[ri + j];
            for k in 0..j {
                s -= a[ri + k] * a[rj + k];
            }
            a[ri + j] = s / l;
        }
    }
    // L·y = b
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    // Lᵀ·x = y
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[k * n + i] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Quiet;

    #[test]
    fn cholesky_solves_a_small_system() {
        // A = [[4,1,0],[1,3,1],[0,1,2]] (lower triangle given), x = [1,2,3] → b = [6,10,8]
        let mut a = vec![4.0, 0.0, 0.0, 1.0, 3.0, 0.0, 0.0, 1.0, 2.0];
        let mut b = vec![6.0, 10.0, 8.0];
        cholesky_solve(&mut a, &mut b, 3);
        for (x, e) in b.iter().zip([1.0, 2.0, 3.0]) {
            assert!((x - e).abs() < 1e-9, "{b:?}");
        }
    }

    #[test]
    fn learns_two_groups_and_is_deterministic() {
        // users 0–19 like items 0–9, users 20–39 like items 10–19; each user misses one of theirs
        let by_user: Vec<Vec<u32>> = (0..40u32).map(|u| {
            let base = if u < 20 { 0 } else { 10 };
            (0..10).filter(|k| k != &(u % 10)).map(|k| base + k).collect()
        }).collect();
        let data = Interactions::new(40, 20, by_user);
        let cfg = IalsConfig { dim: 8, reg: 0.01, unobserved: 0.1, stddev: 0.1, epochs: 6, patience: 3, seed: 7 };
        let t = train(&cfg, &data, &[], &mut Quiet).expect("train");
        let m = &t.model;
        for u in 0..40u32 {
            let own = if u < 20 { u % 10 } else { 10 + u % 10 };
            let other = if u < 20 { 10 + u % 10 } else { u % 10 };
            let s = m.score_pairs(&[u, u], &[own, other]);
            assert!(s[0] > s[1] + 0.2, "user {u}: own {} other {}", s[0], s[1]);
        }
        let again = train(&cfg, &data, &[], &mut Quiet).expect("train");
        assert_eq!(again.model.users, m.users);
        let w = m.weights();
        assert_eq!(w.get("mf_user").expect("user").0, vec![40, 8]);
        assert_eq!(w.get("mf_bias").expect("bias").1, vec![0.0; 20]);
        // served like MF: the ONNX export scored by tract gives the same scores
        let tract = crate::onnx::TractScorer::load(&crate::onnx::export(&w).expect("export"), 64, 40, 20).expect("load");
        let (users, items): (Vec<u32>, Vec<u32>) = (0..40u32).flat_map(|u| [(u, u % 20), (u, 19 - u % 20)]).unzip();
        for (a, b) in tract.score_pairs(&users, &items).iter().zip(m.score_pairs(&users, &items)) {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "tract {a} vs iALS {b}");
        }
    }
}

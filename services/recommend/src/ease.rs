//! EASE^R (Steck, WWW 2019): an item-item model with a closed form, `B = I − P·diag(1/diag(P))`
//! with `P = (XᵀX + λI)⁻¹` and a zero diagonal. The strongest tuned baseline on the NCF split
//! (Ferrari Dacrema et al.), and the item-item signal our ensemble adds to NeuMF.
//! Memory and time grow with the square and cube of the item count: for catalogues up to a few
//! thousand items (the evaluation); the marketplace uses co-occurrence neighbours instead.

use crate::data::Interactions;
use crate::eval::Scorer;
use crate::{RecError, Result};

pub const MAX_ITEMS: usize = 8_000;

pub struct Ease {
    n: usize,
    /// row j = the weights item j gives every item
    b: Vec<f32>,
    train: Interactions,
}

impl Ease {
    pub fn fit(train: &Interactions, lambda: f64) -> Result<Self> {
        let n = train.n_items;
        if n > MAX_ITEMS {
            return Err(RecError::Model(format!("EASE^R needs an n×n inverse; {n} items is over its limit of {MAX_ITEMS}")));
        }
        let mut g = vec![0f64; n * n];
        for items in &train.by_user {
            for &a in items {
                let row = a as usize * n;
                for &b in items {
                    g[row + b as usize] += 1.0;
                }
            }
        }
        for i in 0..n {
            g[i * n + i] += lambda;
        }
        invert_spd(&mut g, n);
        let mut b = vec![0f32; n * n];
        for j in 0..n {
            for i in 0..n {
                // B[j][i] = −P[j][i] / P[i][i]
                b[j * n + i] = if i == j { 0.0 } else { (-g[j * n + i] / g[i * n + i]) as f32 };
            }
        }
        Ok(Ease { n, b, train: train.clone() })
    }
}

/// In-place Gauss–Jordan inverse of a symmetric positive definite matrix (no pivoting needed),
/// rows split across the available cores.
fn invert_spd(a: &mut [f64], n: usize) {
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get()).min(8);
    let mut pivot_row = vec![0f64; n];
    for k in 0..n {
        let p = a[k * n + k];
        a[k * n + k] = 1.0;
        for x in &mut a[k * n..(k + 1) * n] {
            *x /= p;
        }
        pivot_row.copy_from_slice(&a[k * n..(k + 1) * n]);
        let pr = &pivot_row;
        let rows_per = n.div_ceil(threads);
        std::thread::scope(|s| {
            for (c, chunk) in a.chunks_mut(rows_per * n).enumerate() {
                s.spawn(move || {
                    for (r, row) in chunk.chunks_mut(n).enumerate() {
                        let i = c * rows_per + r;
                        if i == k {
                            continue;
                        }
                        let f = row[k];
                        if f == 0.0 {
                            continue;
                        }
                        row[k] = 0.0;
                        for (x, y) in row.iter_mut().zip(pr) {
                            *x -= f * y;
                        }
                    }
                });
            }
        });
    }
}

impl Scorer for Ease {
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        users
            .iter()
            .zip(items)
            .map(|(&u, &i)| self.train.by_user.get(u as usize).map_or(0.0, |hist| hist.iter().map(|&j| self.b[j as usize * self.n + i as usize]).sum()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_a_small_spd_matrix() {
        let mut a = vec![4.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 2.0];
        let orig = a.clone();
        invert_spd(&mut a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| orig[i * 3 + k] * a[k * 3 + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9, "{i},{j}: {v}");
            }
        }
    }
}

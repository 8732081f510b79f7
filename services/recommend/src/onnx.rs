//! The serving contract: a trained model as an ONNX graph, run with tract.
//!
//! **Contract** (opset 13), so that a model trained elsewhere (PyTorch, …) can be dropped in:
//! - input `user`: int64 `[N]` — the user's index (the same index repeated for a candidate list);
//! - input `item`: int64 `[N]` — the candidate items' indices;
//! - output `score`: float32 `[N]` — a logit (any monotone score): higher ranks first.
//! Indices are the model's own (the registry stores the id ↔ index maps beside the model); the
//! embedding tables are initialisers of the graph, so the file is self-contained.

use prost::Message;
use tract_onnx::pb::{self, tensor_proto::DataType};
use tract_onnx::prelude::*;

use crate::eval::Scorer;
use crate::model::{Kind, Weights};
use crate::{RecError, Result};

fn tensor(name: &str, shape: &[usize], data: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_owned(),
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Float as i32,
        raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn value(name: &str, elem: DataType) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    pb::ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: elem as i32,
                shape: Some(pb::TensorShapeProto { dim: vec![Dimension { value: Some(Value::DimParam("N".into())), ..Default::default() }] }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

struct Graph {
    nodes: Vec<pb::NodeProto>,
    inits: Vec<pb::TensorProto>,
}

impl Graph {
    fn node(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<pb::AttributeProto>) -> String {
        self.nodes.push(pb::NodeProto {
            op_type: op.to_owned(),
            name: format!("{op}_{}", self.nodes.len()),
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: vec![output.to_owned()],
            attribute: attrs,
            ..Default::default()
        });
        output.to_owned()
    }

    fn init(&mut self, w: &Weights, name: &str) -> Result<String> {
        let (shape, data) = w.get(name)?;
        self.inits.push(tensor(name, shape, data));
        Ok(name.to_owned())
    }
}

fn int_attr(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto { name: name.to_owned(), r#type: pb::attribute_proto::AttributeType::Int as i32, i: v, ..Default::default() }
}

/// The ONNX bytes of a trained model.
pub fn export(w: &Weights) -> Result<Vec<u8>> {
    let mut g = Graph { nodes: Vec::new(), inits: Vec::new() };
    let gather = |g: &mut Graph, table: &str, ids: &str| -> Result<String> {
        let t = g.init(w, table)?;
        Ok(g.node("Gather", &[&t, ids], &format!("{table}_rows"), vec![int_attr("axis", 0)]))
    };
    let mlp = |g: &mut Graph| -> Result<String> {
        let u = gather(g, "mlp_user", "user")?;
        let i = gather(g, "mlp_item", "item")?;
        let mut x = g.node("Concat", &[&u, &i], "mlp_in", vec![int_attr("axis", 1)]);
        for l in 0..w.layers.len().saturating_sub(1) {
            let wn = g.init(w, &format!("mlp_w{l}"))?;
            let bn = g.init(w, &format!("mlp_b{l}"))?;
            let m = g.node("MatMul", &[&x, &wn], &format!("mlp_mm{l}"), vec![]);
            let a = g.node("Add", &[&m, &bn], &format!("mlp_add{l}"), vec![]);
            x = g.node("Relu", &[&a], &format!("mlp_out{l}"), vec![]);
        }
        Ok(x)
    };
    let gmf = |g: &mut Graph| -> Result<String> {
        let u = gather(g, "gmf_user", "user")?;
        let i = gather(g, "gmf_item", "item")?;
        Ok(g.node("Mul", &[&u, &i], "gmf_out", vec![]))
    };
    let logits = match w.kind {
        Kind::MfBpr => {
            let u = gather(&mut g, "mf_user", "user")?;
            let i = gather(&mut g, "mf_item", "item")?;
            let p = g.node("Mul", &[&u, &i], "mf_prod", vec![]);
            g.inits.push(tensor("mf_ones", &[w.factors, 1], &vec![1.0; w.factors]));
            let dotp = g.node("MatMul", &[&p, "mf_ones"], "mf_dot", vec![]);
            let b = gather(&mut g, "mf_bias", "item")?;
            g.node("Add", &[&dotp, &b], "logits", vec![])
        }
        kind => {
            let h = match kind {
                Kind::Gmf => gmf(&mut g)?,
                Kind::Mlp => mlp(&mut g)?,
                _ => {
                    let a = gmf(&mut g)?;
                    let b = mlp(&mut g)?;
                    g.node("Concat", &[&a, &b], "neumf_in", vec![int_attr("axis", 1)])
                }
            };
            let ow = g.init(w, "out_w")?;
            let ob = g.init(w, "out_b")?;
            let m = g.node("MatMul", &[&h, &ow], "out_mm", vec![]);
            g.node("Add", &[&m, &ob], "logits", vec![])
        }
    };
    g.inits.push(pb::TensorProto { name: "flat".into(), dims: vec![1], data_type: DataType::Int64 as i32, int64_data: vec![-1], ..Default::default() });
    g.node("Reshape", &[&logits, "flat"], "score", vec![]);
    let model = pb::ModelProto {
        ir_version: 7,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        producer_name: "bespoke-recommend".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("{} over {} users × {} items; inputs user, item (int64 [N]); output score (float [N])", w.kind.name(), w.n_users, w.n_items),
        graph: Some(pb::GraphProto {
            name: w.kind.name().into(),
            node: g.nodes,
            initializer: g.inits,
            input: vec![value("user", DataType::Int64), value("item", DataType::Int64)],
            output: vec![value("score", DataType::Float)],
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}

type Plan = std::sync::Arc<TypedRunnableModel>;

/// Scores (user, item) pairs with tract. The graph is optimised for a fixed batch; shorter
/// requests are padded (with index 0) and the padding's scores dropped.
pub struct TractScorer {
    plan: Plan,
    batch: usize,
    pub n_users: usize,
    pub n_items: usize,
}

fn terr(e: impl std::fmt::Display) -> RecError {
    RecError::Model(format!("onnx: {e}"))
}

impl TractScorer {
    pub fn load(bytes: &[u8], batch: usize, n_users: usize, n_items: usize) -> Result<Self> {
        let plan = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(terr)?
            .with_input_fact(0, InferenceFact::dt_shape(i64::datum_type(), tvec![batch]))
            .map_err(terr)?
            .with_input_fact(1, InferenceFact::dt_shape(i64::datum_type(), tvec![batch]))
            .map_err(terr)?
            .into_optimized()
            .map_err(terr)?
            .into_runnable()
            .map_err(terr)?;
        Ok(TractScorer { plan, batch, n_users, n_items })
    }

    pub fn scores(&self, users: &[u32], items: &[u32]) -> Result<Vec<f32>> {
        if users.len() != items.len() {
            return Err(RecError::Model("users and items differ in length".into()));
        }
        if let Some(&u) = users.iter().find(|&&u| u as usize >= self.n_users) {
            return Err(RecError::Model(format!("user index {u} is outside the model's {} users", self.n_users)));
        }
        if let Some(&i) = items.iter().find(|&&i| i as usize >= self.n_items) {
            return Err(RecError::Model(format!("item index {i} is outside the model's {} items", self.n_items)));
        }
        let mut out = Vec::with_capacity(items.len());
        for (u, i) in users.chunks(self.batch).zip(items.chunks(self.batch)) {
            let mut ub: Vec<i64> = u.iter().map(|&x| x as i64).collect();
            let mut ib: Vec<i64> = i.iter().map(|&x| x as i64).collect();
            ub.resize(self.batch, 0);
            ib.resize(self.batch, 0);
            let ut = Tensor::from_shape(&[self.batch], &ub).map_err(terr)?;
            let it = Tensor::from_shape(&[self.batch], &ib).map_err(terr)?;
            let res = self.plan.run(tvec![ut.into(), it.into()]).map_err(terr)?;
            let view = res[0].to_plain_array_view::<f32>().map_err(terr)?;
            out.extend(view.iter().take(u.len()).copied());
        }
        Ok(out)
    }
}

impl Scorer for TractScorer {
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        self.scores(users, items).unwrap_or_else(|e| {
            tracing::error!(error = %e, "scoring failed");
            vec![f32::NEG_INFINITY; items.len()]
        })
    }
}

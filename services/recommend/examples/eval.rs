//! `cargo run --release -p recommend --example eval -- <dataset dir> <out dir> [models] [--no-topk]`:
//! the same evaluation as `server recommend eval`, without building the server.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!("usage: eval <dataset dir> <out dir> [models,comma,separated] [--no-topk]");
        std::process::exit(2);
    };
    let models = args.get(2).filter(|m| !m.starts_with("--")).map(|m| m.split(',').map(str::to_owned).collect()).unwrap_or_default();
    let opts = recommend::experiment::EvalOptions {
        seeds: 5,
        epochs: None,
        models,
        topk: !args.iter().any(|a| a == "--no-topk"),
        out: out.into(),
        progress: true,
    };
    match recommend::experiment::evaluate_and_report(std::path::Path::new(dir), &opts, &mut |l| println!("{l}")) {
        Ok(p) => eprintln!("report: {}", p.display()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

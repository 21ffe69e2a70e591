//! One test per `scenarios/*.toml`, named after the file: adding a file adds a test.

use libtest_mimic::{Arguments, Trial};

fn main() {
    let args = Arguments::from_args();
    let files = conformance::scenario_files().expect("read scenarios/");
    let trials = files
        .into_iter()
        .map(|file| {
            let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            Trial::test(name, move || conformance::run_file(&file).map_err(Into::into)).with_kind("scenario")
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

include!("../protocol/build_support.rs");

fn main() {
    engine_build_env("candle-core");
}

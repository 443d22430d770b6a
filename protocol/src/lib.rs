pub mod http;
pub mod model;
pub mod rng;
pub mod ws;

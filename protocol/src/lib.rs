pub mod http;
pub mod model;
pub mod prometheus;
pub mod rng;
pub mod route;
pub mod ws;

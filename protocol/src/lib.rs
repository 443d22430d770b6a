pub mod http;
pub mod model;
pub mod ws;

#[cfg(test)]
mod test_rng;

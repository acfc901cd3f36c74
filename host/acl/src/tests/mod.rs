mod authorizer;
mod errors;
mod fuzz;
mod parse;
mod synthetic;

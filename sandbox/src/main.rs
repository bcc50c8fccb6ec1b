mod odata;

fn main() {}

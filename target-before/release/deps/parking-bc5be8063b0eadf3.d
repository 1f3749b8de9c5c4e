/work/main/target-before/release/deps/parking-bc5be8063b0eadf3.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/parking-2.2.1/src/lib.rs

/work/main/target-before/release/deps/libparking-bc5be8063b0eadf3.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/parking-2.2.1/src/lib.rs

/work/main/target-before/release/deps/libparking-bc5be8063b0eadf3.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/parking-2.2.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/parking-2.2.1/src/lib.rs:

# The vpnjob-operator image: a release build on Debian bookworm, run on
# distroless/cc (glibc + libgcc, which the binary links dynamically; no shell,
# no package manager) as the non-root user 65532.
#
#   docker build -t vpnjob-operator:0.1.0 .
#   docker run --rm vpnjob-operator:0.1.0 --help
#
# See docs/install.md.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Only what `cargo build` needs (Cargo.toml names benches/decode.rs).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin vpnjob-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/vpnjob-operator /vpnjob-operator
USER 65532:65532
ENTRYPOINT ["/vpnjob-operator"]
CMD ["run"]

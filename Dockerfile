# Build and run hotline. The build stage does what .ci/run does (Debian, cargo, --locked),
# in release mode; the run stage is a bare Debian with the binary, its config and prompts.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/hotline --create-home hotline \
    && mkdir -p /var/lib/hotline/recordings && chown hotline:hotline /var/lib/hotline/recordings
COPY --from=build /src/target/release/hotline /usr/local/bin/hotline
COPY config /etc/hotline
WORKDIR /var/lib/hotline
USER hotline
EXPOSE 5060/udp 5060/tcp 8080/tcp
ENTRYPOINT ["hotline", "--config", "/etc/hotline/hotline.toml"]
CMD ["serve"]

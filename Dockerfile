# Build and run hotline. The build stage does what .ci/run does (cargo on Debian).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/hotline --create-home hotline
COPY --from=build /src/target/release/hotline /usr/local/bin/hotline
COPY config /etc/hotline
WORKDIR /var/lib/hotline
USER hotline
ENV HOTLINE_DATABASE__URL=sqlite:///var/lib/hotline/db/hotline.db?mode=rwc \
    HOTLINE_RECORDINGS__DIR=/var/lib/hotline/recordings
EXPOSE 5060/udp 5060/tcp 8080/tcp
ENTRYPOINT ["hotline", "--config", "/etc/hotline/hotline.toml"]
CMD ["serve"]

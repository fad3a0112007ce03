# syntax=docker/dockerfile:1
# One image for every process of aicc: the command picks it (api, worker, migrate, tenants, tokens).
#   docker build -t aicc --build-arg VERSION=$(git describe --always) .
#   docker run --rm aicc version

FROM golang:1.26.8 AS build
# Build exactly with the pinned Go and without cgo: the Temporal server and the SQLite driver are pure Go.
ENV GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/aicc ./cmd/aicc

# distroless/static: CA certificates and tzdata, no shell, no package manager; runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/aicc /usr/local/bin/aicc
USER nonroot:nonroot
# aicc api: 8080 the public listener (Meta's webhooks), 8081 the admin one (set AICC_HTTP_ADDR=:8081 in a
# container: its default is the loopback interface); aicc worker: 9090.
EXPOSE 8080 8081 9090
ENTRYPOINT ["/usr/local/bin/aicc"]
CMD ["api"]

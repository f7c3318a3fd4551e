# Two stages: build a static binary, then ship it alone on distroless.
# The runtime image has no shell and runs as an unprivileged user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/augur ./cmd/augur

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/augur /augur
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["/augur"]
CMD ["expander"]

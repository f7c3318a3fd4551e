package cost

//go:generate go run ../internal/snapshotgen -data ../../shared/data -kind cost -out .

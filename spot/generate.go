package spot

//go:generate go run ../internal/snapshotgen -data ../../shared/data -kind spot -out .

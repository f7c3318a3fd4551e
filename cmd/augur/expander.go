package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/augur-autoscaler/augur/cost"
	"github.com/augur-autoscaler/augur/expander"
	"github.com/augur-autoscaler/augur/internal/certs"
)

// expanderFlags are the flags of `augur expander`.
type expanderFlags struct {
	listen, metricsListen       string
	certFile, keyFile, clientCA string
	configFile                  string
	dev                         bool
	devDir                      string
	logLevel, logFormat         string
	shutdownGrace               time.Duration
	prices                      priceFlags
}

func (f *expanderFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "listen", ":8443", "gRPC listen address")
	fs.StringVar(&f.metricsListen, "metrics-listen", ":8080",
		"HTTP listen address for /metrics, /healthz, /readyz and /debug/decisions")
	fs.StringVar(&f.certFile, "tls-cert-file", "", "PEM serving certificate (reloaded on change)")
	fs.StringVar(&f.keyFile, "tls-key-file", "", "PEM key of the serving certificate")
	fs.StringVar(&f.clientCA, "client-ca-file", "",
		"PEM bundle to verify client certificates against (turns on mutual TLS)")
	fs.StringVar(&f.configFile, "config", "", "YAML policy file (built-in defaults if empty)")
	fs.BoolVar(&f.dev, "dev", false,
		"serve with a self-signed certificate for localhost, made on first start")
	fs.StringVar(&f.devDir, "dev-cert-dir", defaultDevDir(),
		"where --dev keeps its certificates")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or text")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", 10*time.Second,
		"how long in-flight calls may finish on SIGTERM")
	f.prices.register(fs)
}

// Validate names every bad flag.
func (f *expanderFlags) Validate() error {
	var errs []error
	if !f.dev && (f.certFile == "" || f.keyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file are required "+
			"(the autoscaler only speaks TLS); use --dev to try it out with a "+
			"self-signed certificate"))
	}
	if _, err := parseLevel(f.logLevel); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %w", err))
	}
	if f.logFormat != "json" && f.logFormat != "text" {
		errs = append(errs, fmt.Errorf("--log-format: %q is not json or text", f.logFormat))
	}
	if f.shutdownGrace < 0 {
		errs = append(errs, errors.New("--shutdown-grace must not be negative"))
	}
	errs = append(errs, f.prices.validate()...)
	return errors.Join(errs...)
}

func defaultDevDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "augur", "dev-tls")
	}
	return filepath.Join(os.TempDir(), "augur-dev-tls")
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// parseFlags parses args, then fills each flag not given on the command
// line from the environment variable AUGUR_<NAME>, where NAME is the flag
// name upper-cased with dashes as underscores.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		env := "AUGUR_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[f.Name] {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	return errors.Join(errs...)
}

// flagSet reports whether the flag was given, on the command line or
// through its environment variable.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

func runExpander(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("expander", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f expanderFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Trying it out needs no AWS account: --dev reads prices from the
	// embedded snapshot unless --offline=false asks for the live ones.
	if f.dev && !flagSet(fs, "offline") {
		f.prices.offline = true
	}
	if err := f.Validate(); err != nil {
		return err
	}
	level, _ := parseLevel(f.logLevel)
	var handler slog.Handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	if f.logFormat == "text" {
		handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(handler)

	cfg := expander.DefaultConfig()
	if f.configFile != "" {
		data, err := os.ReadFile(f.configFile)
		if err != nil {
			return fmt.Errorf("reading config: %w", err)
		}
		if cfg, err = expander.ParseConfig(data); err != nil {
			return fmt.Errorf("config %s: %w", f.configFile, err)
		}
	}

	if f.dev {
		files, made, err := certs.EnsureDev(f.devDir)
		if err != nil {
			return fmt.Errorf("making development certificates: %w", err)
		}
		f.certFile, f.keyFile = files.CertFile, files.KeyFile
		verb := "using"
		if made {
			verb = "made"
		}
		fmt.Fprintf(stdout, "augur expander: %s a self-signed certificate for localhost in %s\n",
			verb, f.devDir)
		if f.prices.offline {
			fmt.Fprintln(stdout, "augur expander: prices and spot data from the embedded "+
				"snapshot (--offline=false for live AWS data)")
		}
		fmt.Fprintf(stdout, "point the Cluster Autoscaler at it with:\n"+
			"  --expander=grpc --grpc-expander-url=%s --grpc-expander-cert=%s\n",
			dialTarget(f.listen), files.CAFile)
	}
	reloader, err := certs.NewReloader(certs.ReloaderOptions{CertFile: f.certFile,
		KeyFile: f.keyFile, ClientCAFile: f.clientCA, Logger: log})
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := f.prices.options(cfg.Region, reg, log)
	// The config's instance discounts apply where the flag names none.
	for key, d := range cfg.InstanceDiscounts {
		if _, ok := opts.discounts[key]; !ok {
			opts.discounts[key] = cost.Discount{OnDemand: d.OnDemand, Spot: d.Spot}
		}
	}
	src, err := buildSources(ctx, opts)
	if err != nil {
		return err
	}
	src.run(ctx)
	ranker, err := expander.NewRanker(expander.RankerOptions{Config: cfg,
		Prices: src.catalog, Risks: src, Specs: src.catalog})
	if err != nil {
		return err
	}
	metrics, err := expander.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	srv, err := expander.NewServer(expander.ServerOptions{Ranker: ranker, Logger: log,
		Metrics: metrics})
	if err != nil {
		return err
	}
	return serve(ctx, f, srv, reloader, reg, log)
}

// dialTarget turns a listen address into one the autoscaler can dial on
// this machine.
func dialTarget(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// serve runs the gRPC and HTTP listeners until ctx ends, then drains them.
func serve(ctx context.Context, f expanderFlags, srv *expander.Server,
	reloader *certs.Reloader, reg *prometheus.Registry, log *slog.Logger) error {
	grpcLis, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listening for gRPC: %w", err)
	}
	httpLis, err := net.Listen("tcp", f.metricsListen)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("listening for HTTP: %w", err)
	}
	g, health := expander.NewGRPCServer(srv, reloader.TLSConfig())
	var ready atomic.Bool
	hs := &http.Server{Handler: srv.HTTPHandler(reg, ready.Load),
		ReadHeaderTimeout: 10 * time.Second}

	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		if err := g.Serve(grpcLis); err != nil {
			return fmt.Errorf("serving gRPC: %w", err)
		}
		return nil
	})
	eg.Go(func() error {
		if err := hs.Serve(httpLis); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving HTTP: %w", err)
		}
		return nil
	})
	ready.Store(true)
	log.Info("expander serving", "grpc", grpcLis.Addr().String(),
		"http", httpLis.Addr().String(), "mtls", f.clientCA != "")
	eg.Go(func() error {
		<-ctx.Done()
		log.Info("shutting down", "grace", f.shutdownGrace)
		ready.Store(false)
		health.Shutdown()
		done := make(chan struct{})
		go func() { g.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(f.shutdownGrace):
			log.Warn("grace period over, closing remaining calls")
			g.Stop()
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	})
	return eg.Wait()
}

package forecast

import "fmt"

// AutoregressiveOptions configures [NewAutoregressive].
type AutoregressiveOptions struct {
	// Order is the number of lags p, at least 1.
	Order int
	// Differenced fits the autoregression to y(t) - y(t-1) and sums the
	// forecasts back up (an ARIMA(p,1,0) without constant).
	Differenced bool
	// Name labels the model; empty means "ar<p>" or "ari<p>".
	Name string
}

// Autoregressive is a linear autoregression fitted by least squares.
type Autoregressive struct {
	opts AutoregressiveOptions
}

// NewAutoregressive returns the model
//
//	x(t) = a_1*x(t-1) + ... + a_p*x(t-p) + e(t)
//
// with x = y, or x(t) = y(t) - y(t-1) when Differenced. Forecasts run the
// recursion forward with zero future shocks.
func NewAutoregressive(opts AutoregressiveOptions) (*Autoregressive, error) {
	if opts.Order < 1 {
		return nil, fmt.Errorf("creating autoregressive model: order %d is below 1", opts.Order)
	}
	if opts.Name == "" {
		opts.Name = fmt.Sprintf("ar%d", opts.Order)
		if opts.Differenced {
			opts.Name = fmt.Sprintf("ari%d", opts.Order)
		}
	}
	return &Autoregressive{opts: opts}, nil
}

// Name returns the model's label.
func (m *Autoregressive) Name() string { return m.opts.Name }

// MinPoints returns enough points for a stable least-squares fit.
func (m *Autoregressive) MinPoints() int { return 4*m.opts.Order + 8 }

// Fit estimates the coefficients on y.
func (m *Autoregressive) Fit(y []float64) (Fitted, error) {
	if err := checkTrain(m, y); err != nil {
		return nil, err
	}
	x := m.transform(y)
	a, err := fitAR(x, m.opts.Order)
	if err != nil {
		return nil, fmt.Errorf("fitting %s: %w", m.Name(), err)
	}
	return &arFit{ar: a, diff: m.opts.Differenced, y: y}, nil
}

func (m *Autoregressive) transform(y []float64) []float64 {
	if !m.opts.Differenced {
		return y
	}
	x := make([]float64, len(y)-1)
	for t := range x {
		x[t] = y[t+1] - y[t]
	}
	return x
}

type arFit struct {
	ar   []float64
	diff bool
	y    []float64 // the training data; only its tail is read
}

// forecastAt writes the forecasts after y[:o].
func (f *arFit) forecastAt(y []float64, o int, dst []float64) {
	p := len(f.ar)
	buf := make([]float64, p+len(dst))
	for i := range p {
		t := o - p + i
		if f.diff {
			buf[i] = y[t] - y[t-1]
		} else {
			buf[i] = y[t]
		}
	}
	for k := range dst {
		var v float64
		for i, a := range f.ar {
			v += a * buf[p+k-1-i]
		}
		buf[p+k] = v
	}
	last := y[o-1]
	for k := range dst {
		if f.diff {
			last += buf[p+k]
			dst[k] = last
		} else {
			dst[k] = buf[p+k]
		}
	}
}

func (f *arFit) Forecast(dst []float64) { f.forecastAt(f.y, len(f.y), dst) }

func (f *arFit) Walk(y []float64, from, h int, emit func(int, []float64)) {
	buf := make([]float64, h)
	for o := from; o <= len(y); o++ {
		f.forecastAt(y, o, buf)
		emit(o, buf)
	}
}

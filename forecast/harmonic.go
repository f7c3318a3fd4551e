package forecast

import (
	"fmt"
	"math"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"
)

// Harmonics is one seasonal cycle described by Fourier terms.
type Harmonics struct {
	// Period is the cycle length in points, e.g. 288 for a day of 5-minute
	// points, 2016 for a week.
	Period int
	// Order is the number of sine/cosine pairs, 1 <= Order < Period/2.
	Order int
}

// HarmonicOptions configures [NewHarmonic].
type HarmonicOptions struct {
	// Seasons lists the cycles. A cycle longer than half the training data
	// is left out of that fit, since fewer than two cycles cannot separate
	// it from the trend.
	Seasons []Harmonics
	// Trend adds a linear trend term.
	Trend bool
	// AR is the order of the autoregression fitted to the residuals of the
	// regression; 0 leaves the residuals alone.
	AR int
	// Workweek gives working days (Monday to Friday) and weekends their
	// own intercept and terms of the shortest cycle when the points' times
	// are known ([FitAt]), no longer cycle is in the fit and the training
	// data holds at least one shortest cycle of each kind. Both kinds'
	// departures from the shared terms are shrunk towards zero as if one
	// more cycle of data had shown none, so a single Friday is half
	// believed.
	Workweek bool
	// Location decides where days begin and which weekday a point falls
	// on; nil means the location of the clock's start time.
	Location *time.Location
	// Name labels the model; empty means "harmonic-ar".
	Name string
}

// Harmonic is a regression on Fourier terms of one or more seasonal cycles
// plus an optional linear trend, with an autoregression on its residuals.
type Harmonic struct {
	opts HarmonicOptions
}

// NewHarmonic returns the harmonic regression model. With cycles of
// periods P_j and orders K_j it fits, by least squares,
//
//	y(t) = c + d*t/n + sum_j sum_{k=1..K_j} a_jk*sin(2*pi*k*t/P_j)
//	                                       + b_jk*cos(2*pi*k*t/P_j) + r(t)
//	r(t) = phi_1*r(t-1) + ... + phi_p*r(t-p) + e(t)
//
// where n is the training length. A frequency k/P_j already present in an
// earlier cycle (a week's 7th harmonic is a day's first) is not repeated.
// With Workweek in effect the regression also has, for working days and
// for weekends each, an intercept and the shortest cycle's terms that are
// zero on the other kind of day, fitted with a ridge penalty of one
// cycle's points on the intercepts and half that on the sines and
// cosines.
// Forecasts add the regression at future times to the autoregression run
// forward from the last p residuals.
func NewHarmonic(opts HarmonicOptions) (*Harmonic, error) {
	for _, s := range opts.Seasons {
		if s.Period < 3 || s.Order < 1 || 2*s.Order >= s.Period {
			return nil, fmt.Errorf("creating harmonic model: period %d with order %d: "+
				"need period >= 3 and 1 <= order < period/2", s.Period, s.Order)
		}
	}
	if opts.AR < 0 {
		return nil, fmt.Errorf("creating harmonic model: negative AR order %d", opts.AR)
	}
	if opts.Name == "" {
		opts.Name = "harmonic-ar"
	}
	return &Harmonic{opts: opts}, nil
}

// Name returns the model's label.
func (m *Harmonic) Name() string { return m.opts.Name }

// MinPoints returns two cycles of the shortest season, and enough points
// for the autoregression.
func (m *Harmonic) MinPoints() int {
	n := 4*m.opts.AR + 8
	if len(m.opts.Seasons) > 0 {
		p := m.opts.Seasons[0].Period
		for _, s := range m.opts.Seasons {
			p = min(p, s.Period)
		}
		n = max(n, 2*p)
	}
	return n
}

// term is one sine/cosine pair: harmonic k of a cycle of the given period.
type term struct{ period, k int }

func (m *Harmonic) terms(n int) []term {
	var ts []term
	seen := map[[2]int]bool{}
	for _, s := range m.opts.Seasons {
		if 2*s.Period > n {
			continue
		}
		for k := 1; k <= s.Order; k++ {
			g := gcd(k, s.Period)
			key := [2]int{k / g, s.Period / g}
			if seen[key] {
				continue
			}
			seen[key] = true
			ts = append(ts, term{s.Period, k})
		}
	}
	return ts
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

type harmonicFit struct {
	name  string
	n     int
	trend bool
	terms []term
	// week splits the regression into working days and weekends; kinds
	// are the terms it repeats for each kind.
	week  *workweek
	kinds []term
	coef  []float64 // intercept, trend?, then sin, cos per term
	ar    []float64 // ar[i] multiplies r(t-1-i)
	resid []float64 // the last len(ar) training residuals
	// sin and cos tables per period: sin[p][j] = sin(2*pi*j/p).
	sin, cos map[int][]float64
}

func (f *harmonicFit) tables() {
	f.sin, f.cos = map[int][]float64{}, map[int][]float64{}
	for _, tm := range f.terms {
		if _, ok := f.sin[tm.period]; ok {
			continue
		}
		s, c := make([]float64, tm.period), make([]float64, tm.period)
		for j := range s {
			s[j], c[j] = math.Sincos(2 * math.Pi * float64(j) / float64(tm.period))
		}
		f.sin[tm.period], f.cos[tm.period] = s, c
	}
}

// Fit estimates the regression and the residual autoregression on y.
func (m *Harmonic) Fit(y []float64) (Fitted, error) { return m.FitAt(y, Clock{}) }

// FitAt is Fit with the times of y's points, which the Workweek option
// needs.
func (m *Harmonic) FitAt(y []float64, clock Clock) (Fitted, error) {
	if err := checkTrain(m, y); err != nil {
		return nil, err
	}
	n := len(y)
	f := &harmonicFit{name: m.Name(), n: n, trend: m.opts.Trend, terms: m.terms(n)}
	shortest := 0
	for _, s := range m.opts.Seasons {
		if shortest == 0 || s.Period < shortest {
			shortest = s.Period
		}
	}
	if m.opts.Workweek && clock.Known() && shortest > 0 && len(f.terms) > 0 {
		longer := false
		for _, tm := range f.terms {
			longer = longer || tm.period > shortest
		}
		w := newWorkweek(clock, m.opts.Location)
		work, rest := w.count(n)
		if !longer && work >= shortest && rest >= shortest {
			f.week = w
			for _, tm := range f.terms {
				if tm.period == shortest {
					f.kinds = append(f.kinds, tm)
				}
			}
		}
	}
	f.tables()
	p := f.width()
	raw := make([]float64, n*p)
	for t := range n {
		f.regressors(t, raw[t*p:(t+1)*p])
	}
	x := mat.NewDense(n, p, raw)
	var pen []float64
	if f.week != nil {
		// One more cycle showing no departure: each column's sum of
		// squares over a cycle (1 for the intercept, 1/2 for a sine or
		// cosine, per point).
		pen = make([]float64, p)
		base := p - 2*(1+2*len(f.kinds))
		for kind := range 2 {
			i := base + kind*(1+2*len(f.kinds))
			pen[i] = float64(shortest)
			for j := 1; j <= 2*len(f.kinds); j++ {
				pen[i+j] = float64(shortest) / 2
			}
		}
	}
	coef, err := ridgeLeastSquares(x, y, pen)
	if err != nil {
		return nil, fmt.Errorf("fitting %s: %w", m.Name(), err)
	}
	f.coef = coef
	var fitted mat.VecDense
	fitted.MulVec(x, mat.NewVecDense(p, coef))
	r := make([]float64, n)
	for t := range n {
		r[t] = y[t] - fitted.AtVec(t)
	}
	if m.opts.AR > 0 {
		f.ar, err = fitAR(r, m.opts.AR)
		if err != nil {
			return nil, fmt.Errorf("fitting %s residual autoregression: %w", m.Name(), err)
		}
		f.resid = append([]float64(nil), r[n-m.opts.AR:]...)
	}
	return f, nil
}

func (f *harmonicFit) width() int {
	w := 1 + 2*len(f.terms)
	if f.trend {
		w++
	}
	if f.week != nil {
		w += 2 * (1 + 2*len(f.kinds))
	}
	return w
}

// regressors writes the regression row of time index t.
func (f *harmonicFit) regressors(t int, row []float64) {
	row[0] = 1
	i := 1
	if f.trend {
		row[1] = float64(t) / float64(f.n)
		i = 2
	}
	for _, tm := range f.terms {
		// The phase is reduced modulo the period, so large t loses no
		// precision.
		ph := (t * tm.k) % tm.period
		row[i], row[i+1] = f.sin[tm.period][ph], f.cos[tm.period][ph]
		i += 2
	}
	if f.week == nil {
		return
	}
	// A working day's block, then a weekend's; the other kind's is zero.
	clear(row[i:])
	if f.week.weekend(t) {
		i += 1 + 2*len(f.kinds)
	}
	row[i] = 1
	i++
	for _, tm := range f.kinds {
		ph := (t * tm.k) % tm.period
		row[i], row[i+1] = f.sin[tm.period][ph], f.cos[tm.period][ph]
		i += 2
	}
}

func (f *harmonicFit) regression(t int, row []float64) float64 {
	f.regressors(t, row)
	var v float64
	for i, c := range f.coef {
		v += c * row[i]
	}
	return v
}

// arForward writes into dst the autoregression run forward from the
// residual history hist (oldest first) with zero future shocks.
func (f *harmonicFit) arForward(hist, dst []float64) {
	p := len(f.ar)
	if p == 0 {
		clear(dst)
		return
	}
	buf := make([]float64, p+len(dst))
	copy(buf, hist[len(hist)-p:])
	for k := range dst {
		var v float64
		for i, a := range f.ar {
			v += a * buf[p+k-1-i]
		}
		buf[p+k] = v
		dst[k] = v
	}
}

func (f *harmonicFit) Forecast(dst []float64) {
	f.arForward(f.resid, dst)
	row := make([]float64, f.width())
	for k := range dst {
		dst[k] += f.regression(f.n+k, row)
	}
}

func (f *harmonicFit) Walk(y []float64, from, h int, emit func(int, []float64)) {
	row := make([]float64, f.width())
	p := len(f.ar)
	lo := max(from-p, 0)
	reg := make([]float64, len(y)+h-lo)
	for t := lo; t < len(y)+h; t++ {
		reg[t-lo] = f.regression(t, row)
	}
	r := make([]float64, len(y)-lo)
	for t := lo; t < len(y); t++ {
		r[t-lo] = y[t] - reg[t-lo]
	}
	buf := make([]float64, h)
	for o := from; o <= len(y); o++ {
		f.arForward(r[:o-lo], buf)
		for k := range buf {
			buf[k] += reg[o+k-lo]
		}
		emit(o, buf)
	}
}

// leastSquares solves min ||x*b - y|| through the normal equations with a
// tiny ridge (1e-9 of the mean diagonal) that keeps them positive definite
// when columns are nearly collinear.
func leastSquares(x *mat.Dense, y []float64) ([]float64, error) {
	return ridgeLeastSquares(x, y, nil)
}

// ridgeLeastSquares solves min ||x*b - y||^2 + sum_i pen[i]*b_i^2 (no
// penalty when pen is nil) plus leastSquares' tiny ridge.
func ridgeLeastSquares(x *mat.Dense, y, pen []float64) ([]float64, error) {
	_, p := x.Dims()
	var xtx mat.SymDense
	xtx.SymOuterK(1, x.T())
	var tr float64
	for i := range p {
		tr += xtx.At(i, i)
	}
	ridge := 1e-9 * tr / float64(p)
	if ridge == 0 {
		ridge = 1e-12
	}
	for i := range p {
		extra := ridge
		if pen != nil {
			extra += pen[i]
		}
		xtx.SetSym(i, i, xtx.At(i, i)+extra)
	}
	var xty mat.VecDense
	xty.MulVec(x.T(), mat.NewVecDense(len(y), y))
	var chol mat.Cholesky
	if ok := chol.Factorize(&xtx); !ok {
		return nil, fmt.Errorf("solving least squares: normal equations are not " +
			"positive definite")
	}
	var b mat.VecDense
	if err := chol.SolveVecTo(&b, &xty); err != nil {
		return nil, fmt.Errorf("solving least squares: %w", err)
	}
	return b.RawVector().Data, nil
}

// fitAR fits r(t) = sum_i a_i*r(t-i) by least squares over t = p..n-1.
// Stationarity is not enforced: a near-unit root is what lets the
// residual level persist, and forecasts run only a few dozen steps.
// TODO(forecast): check the roots if longer horizons are ever needed.
func fitAR(r []float64, p int) ([]float64, error) {
	n := len(r) - p
	if n < 2*p {
		return nil, fmt.Errorf("%w: %d residuals for order %d", ErrTooFewPoints, len(r), p)
	}
	x := mat.NewDense(n, p, nil)
	for t := p; t < len(r); t++ {
		for i := range p {
			x.Set(t-p, i, r[t-1-i])
		}
	}
	allZero := true
	for _, v := range r {
		if v != 0 {
			allZero = false
			break
		}
	}
	if allZero {
		return make([]float64, p), nil
	}
	return leastSquares(x, r[p:])
}

// String describes the model's structure, e.g.
// "harmonic-ar(288x6+2016x3,ar24)".
func (m *Harmonic) String() string {
	var b strings.Builder
	b.WriteString(m.opts.Name + "(")
	for i, s := range m.opts.Seasons {
		if i > 0 {
			b.WriteByte('+')
		}
		fmt.Fprintf(&b, "%dx%d", s.Period, s.Order)
	}
	if m.opts.Trend {
		b.WriteString(",trend")
	}
	fmt.Fprintf(&b, ",ar%d)", m.opts.AR)
	return b.String()
}

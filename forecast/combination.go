package forecast

import (
	"errors"
	"fmt"
	"strings"
)

// Combination averages the point forecasts of several models. Averaging
// models that fail in different ways is one of the most reliable ways to
// lower forecast error.
type Combination struct {
	name    string
	members []Model
}

// NewCombination returns the equal-weight mean of members:
// yhat(t+k) = (1/M) * sum_i yhat_i(t+k). name labels it; empty joins the
// member names with "+".
func NewCombination(name string, members ...Model) (*Combination, error) {
	if len(members) == 0 {
		return nil, errors.New("creating combination: no members")
	}
	if name == "" {
		names := make([]string, len(members))
		for i, m := range members {
			names[i] = m.Name()
		}
		name = strings.Join(names, "+")
	}
	return &Combination{name: name, members: members}, nil
}

// Name returns the combination's label.
func (c *Combination) Name() string { return c.name }

// MinPoints is the largest MinPoints of the members.
func (c *Combination) MinPoints() int {
	n := 0
	for _, m := range c.members {
		n = max(n, m.MinPoints())
	}
	return n
}

// Fit fits every member on y.
func (c *Combination) Fit(y []float64) (Fitted, error) { return c.FitAt(y, Clock{}) }

// FitAt fits every member on y, passing the clock to those that use it.
func (c *Combination) FitAt(y []float64, clock Clock) (Fitted, error) {
	fits := make([]Fitted, len(c.members))
	for i, m := range c.members {
		f, err := FitAt(m, y, clock)
		if err != nil {
			return nil, fmt.Errorf("fitting %s: %w", c.name, err)
		}
		fits[i] = f
	}
	return &combinationFit{fits: fits}, nil
}

type combinationFit struct{ fits []Fitted }

func (c *combinationFit) Forecast(dst []float64) {
	clear(dst)
	buf := make([]float64, len(dst))
	for _, f := range c.fits {
		f.Forecast(buf)
		for k, v := range buf {
			dst[k] += v
		}
	}
	w := 1 / float64(len(c.fits))
	for k := range dst {
		dst[k] *= w
	}
}

func (c *combinationFit) Walk(y []float64, from, h int, emit func(int, []float64)) {
	origins := len(y) - from + 1
	acc := make([]float64, origins*h)
	for _, f := range c.fits {
		f.Walk(y, from, h, func(o int, fc []float64) {
			row := acc[(o-from)*h : (o-from+1)*h]
			for k, v := range fc {
				row[k] += v
			}
		})
	}
	w := 1 / float64(len(c.fits))
	for i := range acc {
		acc[i] *= w
	}
	for o := from; o <= len(y); o++ {
		emit(o, acc[(o-from)*h:(o-from+1)*h])
	}
}

package forecast

import (
	"log/slog"
	"math"
	"sort"
)

// SelectorOptions configures [NewSelector].
type SelectorOptions struct {
	// Margin is how much better a challenger's mean score must be:
	// challenger <= (1 - Margin) * champion. Zero means 0.1.
	Margin float64
	// Windows is how many of the latest scored windows are compared. Zero
	// means 12: a day of windows two hours apart, so a model good only at
	// night does not win.
	Windows int
	// MinWins is how many of those windows the challenger must win. Zero
	// means three quarters of Windows, rounded up (9 of 12: a fair coin
	// does that one time in 14).
	MinWins int
	// Initial is the champion before any window is seen, which every
	// challenger must then beat by the margin. Empty means none: the best
	// mean over the first Windows windows becomes champion outright. A
	// champion with too few scores yet (it needs more history than the
	// others) keeps its place until it can be compared; one that stops
	// scoring, or is not among the scored models, is replaced outright.
	Initial string
	// Logger receives one line per change of champion; nil discards.
	Logger *slog.Logger
}

// Selector keeps the champion model of one series. It is fed one score
// per model per backtest window (lower is better, e.g. MASE) and replaces
// the champion only when a challenger wins by the margin over several
// windows. Without an initial champion the first one is the model with the
// lowest mean score once Windows windows have been seen.
type Selector struct {
	opts     SelectorOptions
	champion string
	history  map[string][]float64
	scored   map[string]int // finite scores ever seen, by model
	seen     int
}

// Switch records one change of champion and the numbers behind it.
type Switch struct {
	// Window is the number of windows seen when the switch happened.
	Window int
	// From and To name the old and new champion; From is empty for the
	// first choice.
	From, To string
	// FromScore and ToScore are their mean scores over the windows.
	FromScore, ToScore float64
	// Wins is how many windows the challenger won.
	Wins, Windows int
}

// NewSelector returns a selector with no champion yet.
func NewSelector(opts SelectorOptions) *Selector {
	if opts.Margin == 0 {
		opts.Margin = 0.1
	}
	if opts.Windows <= 0 {
		opts.Windows = 12
	}
	if opts.MinWins <= 0 {
		opts.MinWins = (3*opts.Windows + 3) / 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Selector{opts: opts, champion: opts.Initial, history: map[string][]float64{},
		scored: map[string]int{}}
}

// Champion returns the current champion, or "" before the first choice.
func (s *Selector) Champion() string { return s.champion }

// Observe records one window's scores (model name to score; NaN or a
// missing model counts as not available) and returns the switch it caused,
// if any.
func (s *Selector) Observe(scores map[string]float64) (Switch, bool) {
	s.seen++
	for name := range scores {
		if _, ok := s.history[name]; !ok {
			s.history[name] = nil
		}
	}
	for name, h := range s.history {
		v, ok := scores[name]
		if !ok {
			v = math.NaN()
		}
		h = append(h, v)
		if finite(v) {
			s.scored[name]++
		}
		if len(h) > s.opts.Windows {
			h = h[len(h)-s.opts.Windows:]
		}
		s.history[name] = h
	}
	if s.seen < s.opts.Windows {
		return Switch{}, false
	}
	best, bestMean := s.best()
	if best == "" {
		return Switch{}, false
	}
	if s.champion == "" {
		return s.switchTo(Switch{To: best, ToScore: bestMean, FromScore: math.NaN(),
			Windows: s.opts.Windows})
	}
	if best == s.champion {
		return Switch{}, false
	}
	champMean, ok := s.mean(s.champion)
	if !ok {
		if !s.stopped(s.champion) {
			// Still short of Windows scores (it needs more history than
			// the others): keep it until it can be compared.
			return Switch{}, false
		}
		// The champion stopped producing forecasts: replace it outright.
		return s.switchTo(Switch{From: s.champion, To: best, FromScore: math.NaN(),
			ToScore: bestMean, Windows: s.opts.Windows})
	}
	if bestMean > (1-s.opts.Margin)*champMean {
		return Switch{}, false
	}
	wins := 0
	hc, hb := s.history[s.champion], s.history[best]
	for i := range hb {
		if hb[i] < hc[i] {
			wins++
		}
	}
	if wins < s.opts.MinWins {
		return Switch{}, false
	}
	return s.switchTo(Switch{From: s.champion, To: best, FromScore: champMean,
		ToScore: bestMean, Wins: wins, Windows: s.opts.Windows})
}

func (s *Selector) switchTo(sw Switch) (Switch, bool) {
	sw.Window = s.seen
	s.champion = sw.To
	s.opts.Logger.Info("forecast champion chosen", "from", sw.From, "to", sw.To,
		"from_score", sw.FromScore, "to_score", sw.ToScore, "wins", sw.Wins,
		"windows", sw.Windows, "margin", s.opts.Margin)
	return sw, true
}

// mean is a model's mean score over the last Windows windows; ok is false
// when any of them is missing.
func (s *Selector) mean(name string) (float64, bool) {
	h := s.history[name]
	if len(h) < s.opts.Windows {
		return 0, false
	}
	var sum float64
	for _, v := range h[len(h)-s.opts.Windows:] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false
		}
		sum += v
	}
	return sum / float64(s.opts.Windows), true
}

// stopped reports whether a model is unknown, or scored before and has
// no score for the latest window. A model that has not scored yet is
// warming up, not stopped.
func (s *Selector) stopped(name string) bool {
	h, ok := s.history[name]
	if !ok {
		return true
	}
	return s.scored[name] > 0 && !finite(h[len(h)-1])
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// best returns the model with the lowest complete mean; ties go to the
// name that sorts first, so the choice is deterministic.
func (s *Selector) best() (string, float64) {
	names := make([]string, 0, len(s.history))
	for n := range s.history {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestMean := "", math.Inf(1)
	for _, n := range names {
		if m, ok := s.mean(n); ok && m < bestMean {
			best, bestMean = n, m
		}
	}
	return best, bestMean
}

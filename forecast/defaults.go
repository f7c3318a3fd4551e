package forecast

import "fmt"

// DefaultModels returns the candidate models for a series with perDay
// points per day (288 for 5-minute points): naive, seasonal naive daily and
// weekly, damped Holt-Winters with an additive daily season, and the
// harmonic regression with daily (order 6) and weekly (order 3) cycles and
// AR(24) residuals, and the mean of the last two. No trend term: over a
// 14-day window it extrapolates worse than the autoregression alone
// (measured in docs/forecast.md).
func DefaultModels(perDay int) ([]Model, error) {
	if perDay < 4 {
		return nil, fmt.Errorf("choosing default models: %d points per day is below 4", perDay)
	}
	day, err := NewSeasonalNaive(perDay, "seasonal-naive-day")
	if err != nil {
		return nil, err
	}
	week, err := NewSeasonalNaive(7*perDay, "seasonal-naive-week")
	if err != nil {
		return nil, err
	}
	hw, err := NewHoltWinters(HoltWintersOptions{Period: perDay, Trend: TrendDamped,
		Season: SeasonAdditive})
	if err != nil {
		return nil, err
	}
	harm, err := NewHarmonic(HarmonicOptions{
		Seasons: []Harmonics{{Period: perDay, Order: min(6, (perDay-1)/2)},
			{Period: 7 * perDay, Order: 3}},
		AR: min(24, perDay/2),
	})
	if err != nil {
		return nil, err
	}
	combo, err := NewCombination("mean-hw-harmonic", hw, harm)
	if err != nil {
		return nil, err
	}
	return []Model{NewNaive(), day, week, hw, harm, combo}, nil
}

package forecast

import "fmt"

// DefaultChampion names the model of [DefaultModels] that a [Selector]
// should start from: over the project's benchmark series it was the
// steadiest, rarely the best and never far off (docs/forecast.md).
const DefaultChampion = "mean-log"

// DefaultModels returns the candidate models for a series with perDay
// points per day (288 for 5-minute points):
//
//   - naive, seasonal naive daily and weekly (the baselines);
//   - damped Holt-Winters with an additive daily season;
//   - ARIMA(12,1,0) with no season, for series that only drift;
//   - harmonic regression with daily (order 6) and weekly (order 3) cycles
//     and AR(24) residuals, working days and weekends apart while there is
//     less than two weeks of data. No trend term: over a 14-day window it
//     extrapolated worse than the autoregression alone;
//   - decomposition (daily and weekly profiles, or working-day and weekend
//     profiles while there is less than two weeks of data) with a damped
//     Holt level, and with an ARIMA(12,1,0) level;
//   - the mean of the last three, the same mean fed through a causal
//     Hampel filter ([NewCleaned], threshold 5) so isolated spikes are not
//     carried forward, and the same mean fitted to the logarithm of the
//     series ([NewLogged]), named [DefaultChampion].
//
// Working days and weekends are told apart only when the model is fitted
// through [FitAt] (a [Forecaster] does), in the clock's own location.
func DefaultModels(perDay int) ([]Model, error) {
	if perDay < 8 {
		return nil, fmt.Errorf("choosing default models: %d points per day is below 8", perDay)
	}
	week := 7 * perDay
	snDay, err := NewSeasonalNaive(perDay, "seasonal-naive-day")
	if err != nil {
		return nil, err
	}
	snWeek, err := NewSeasonalNaive(week, "seasonal-naive-week")
	if err != nil {
		return nil, err
	}
	hw, err := NewHoltWinters(HoltWintersOptions{Period: perDay, Trend: TrendDamped,
		Season: SeasonAdditive})
	if err != nil {
		return nil, err
	}
	ari, err := NewAutoregressive(AutoregressiveOptions{Order: min(12, perDay/4),
		Differenced: true, Name: "ari"})
	if err != nil {
		return nil, err
	}
	harm, err := NewHarmonic(HarmonicOptions{
		Seasons: []Harmonics{{Period: perDay, Order: min(6, (perDay-1)/2)},
			{Period: week, Order: 3}},
		AR: min(24, perDay/2), Workweek: true,
	})
	if err != nil {
		return nil, err
	}
	decHolt, err := NewDecomposed(DecomposedOptions{Period: perDay, LongPeriod: week,
		Workweek: true, Name: "decomposed-holt"})
	if err != nil {
		return nil, err
	}
	decARI, err := NewDecomposed(DecomposedOptions{Period: perDay, LongPeriod: week,
		Level: ari, Workweek: true, Name: "decomposed-ari"})
	if err != nil {
		return nil, err
	}
	combo, err := NewCombination("mean-decomposed-harmonic", decHolt, decARI, harm)
	if err != nil {
		return nil, err
	}
	cleaned, err := NewCleaned(CleanedOptions{Model: combo, Threshold: 5,
		Name: "mean-cleaned"})
	if err != nil {
		return nil, err
	}
	logged, err := NewLogged(LoggedOptions{Model: combo, Name: DefaultChampion})
	if err != nil {
		return nil, err
	}
	return []Model{NewNaive(), snDay, snWeek, hw, ari, harm, decHolt, decARI, combo, cleaned,
		logged}, nil
}

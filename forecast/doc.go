// Package forecast predicts how much demand is coming, how sure the
// prediction is, and whether the present looks abnormal.
//
// The pieces, from data to decision:
//
//   - [Series] holds a metric on a regular time grid. [FromSamples] and
//     [NewSeries] resample raw samples, interpolate short gaps and fill long
//     ones for training only; the [GapReport] says what was done.
//   - A [Model] is one forecasting method: [NewNaive], [NewSeasonalNaive],
//     [NewHoltWinters] and [NewHarmonic] (Fourier terms for daily and weekly
//     seasons, a trend and autoregressive residuals).
//   - A [Forecaster] fits a model and attaches prediction intervals
//     (p50, p90, p99 per step) calibrated on the model's own out-of-sample
//     errors.
//   - [Backtest] scores models by rolling origin, and a [Selector] keeps a
//     champion model that a challenger replaces only when it wins by a
//     stated margin over several windows.
//   - A [Monitor] follows a live series: it refits on a schedule (running
//     the champion and challenger loop over candidate models if given
//     several), forecasts ahead and reports each new point's anomaly score
//     and state (normal, anomalous, recovering) through a [Detector].
//
// The package is pure computation: no I/O beyond [ReadCSV], no goroutines,
// no package-level state. See docs/forecast.md for the protocol and the
// measured figures.
package forecast

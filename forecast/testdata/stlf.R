# Runs forecast::stlf (STL decomposition + ETS on the seasonally adjusted
# series) at the origins chosen by Augur's backtest, on the same training
# windows, so the accuracy benchmark can score R beside Augur.
#
# usage: Rscript stlf.R series.csv origins.txt out.csv period h max_train
#   series.csv  one column "value": the prepared grid, oldest first
#   origins.txt one 0-based grid index per line; forecasts start there
# out.csv rows: origin_index,step,p50,p90,p99,seconds (origin_index 0-based
# into origins.txt). p50 is the point forecast, p90 and p99 the upper ends
# of the 80% and 98% intervals.
suppressMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
y <- read.csv(args[1])$value
origins <- scan(args[2], quiet = TRUE)
period <- as.integer(args[4])
h <- as.integer(args[5])
max_train <- as.integer(args[6])
rows <- vector("list", length(origins))
for (i in seq_along(origins)) {
  o <- origins[i]
  train <- y[(max(0, o - max_train) + 1):o]
  t0 <- proc.time()[["elapsed"]]
  fc <- stlf(ts(train, frequency = period), h = h, level = c(80, 98))
  secs <- proc.time()[["elapsed"]] - t0
  rows[[i]] <- data.frame(origin_index = i - 1, step = seq_len(h),
                          p50 = as.numeric(fc$mean),
                          p90 = as.numeric(fc$upper[, 1]),
                          p99 = as.numeric(fc$upper[, 2]),
                          seconds = secs)
}
write.csv(do.call(rbind, rows), args[3], row.names = FALSE)

// centric_stats: the statistics behind Reporting's KPIs and A/B experiments. Pure
// functions, no I/O; every bad argument is an INVALID_ARGUMENT naming it and its limit.
//
// - experiment.h: conversion rates, uplift with Wald / delta-method intervals, z-test.
// - bayes.h: probability that a variant beats control (exact Beta posterior sum).
// - srm.h: sample ratio mismatch (chi-square goodness of fit against the weights).
// - sample_size.h: exposures needed for a minimum detectable effect, and how many remain.
// - assignment.h: sticky variant assignment from SHA-256 buckets.
// - kpi.h: NPS with margin of error, CSAT with a Wilson interval, mean with standard
//   error (CES), median duration.
// - distributions.h: normal and chi-square functions (Boost.Math).
//
// docs/STATISTICS.md states every formula and its source.
#ifndef CENTRIC_LIBS_STATS_STATS_H_
#define CENTRIC_LIBS_STATS_STATS_H_

#include "libs/stats/assignment.h"     // IWYU pragma: export
#include "libs/stats/bayes.h"          // IWYU pragma: export
#include "libs/stats/distributions.h"  // IWYU pragma: export
#include "libs/stats/experiment.h"     // IWYU pragma: export
#include "libs/stats/kpi.h"            // IWYU pragma: export
#include "libs/stats/sample_size.h"    // IWYU pragma: export
#include "libs/stats/srm.h"            // IWYU pragma: export
#include "libs/stats/validate.h"       // IWYU pragma: export

#endif  // CENTRIC_LIBS_STATS_STATS_H_

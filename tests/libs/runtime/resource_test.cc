// Timestamp conversions every service uses on request and stored times.
#include "libs/runtime/resource.h"

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace centric::runtime {
namespace {

google::protobuf::Timestamp Ts(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

constexpr int64_t kFirst = -62135596800;  // 0001-01-01T00:00:00Z
constexpr int64_t kLast = 253402300799;   // 9999-12-31T23:59:59Z

TEST(ValidTimestampTest, AcceptsExactlyTheRangeOfTimestamp) {
  EXPECT_TRUE(ValidTimestamp(Ts(0)));
  EXPECT_TRUE(ValidTimestamp(Ts(kFirst)));
  EXPECT_TRUE(ValidTimestamp(Ts(kLast, 999999999)));
  EXPECT_FALSE(ValidTimestamp(Ts(kFirst - 1)));
  EXPECT_FALSE(ValidTimestamp(Ts(kLast + 1)));
  EXPECT_FALSE(ValidTimestamp(Ts(0, -1)));
  EXPECT_FALSE(ValidTimestamp(Ts(0, 1000000000)));
}

TEST(ToTimestampTest, KeepsMicrosecondsBothSidesOfTheEpoch) {
  const absl::Time t = absl::FromCivil(absl::CivilSecond(2026, 11, 23, 8, 30, 15),
                                       absl::UTCTimeZone()) +
                       absl::Microseconds(123456) + absl::Nanoseconds(789);
  google::protobuf::Timestamp ts = ToTimestamp(t);
  EXPECT_EQ(ts.nanos(), 123456000) << "truncated to microseconds";
  EXPECT_EQ(FromTimestamp(ts), t - absl::Nanoseconds(789));

  google::protobuf::Timestamp before = ToTimestamp(absl::UnixEpoch() - absl::Microseconds(1));
  EXPECT_EQ(before.seconds(), -1);
  EXPECT_EQ(before.nanos(), 999999000);
  EXPECT_TRUE(ValidTimestamp(before));
  EXPECT_EQ(FromTimestamp(before), absl::UnixEpoch() - absl::Microseconds(1));
}

TEST(ToTimestampTest, OutOfRangeAndInfiniteTimesAreClampedNotFatal) {
  for (absl::Time t : {absl::InfinitePast(), absl::FromUnixSeconds(kFirst) - absl::Hours(24)}) {
    google::protobuf::Timestamp ts = ToTimestamp(t);
    EXPECT_TRUE(ValidTimestamp(ts));
    EXPECT_EQ(ts.seconds(), kFirst);
    EXPECT_EQ(ts.nanos(), 0);
  }
  for (absl::Time t : {absl::InfiniteFuture(), absl::FromUnixSeconds(kLast) + absl::Hours(24)}) {
    google::protobuf::Timestamp ts = ToTimestamp(t);
    EXPECT_TRUE(ValidTimestamp(ts));
    EXPECT_EQ(ts.seconds(), kLast);
    EXPECT_EQ(ts.nanos(), 999999000);
  }
  EXPECT_EQ(FromTimestamp(Ts(kLast + 100)), absl::FromUnixSeconds(kLast));
  EXPECT_EQ(FromTimestamp(Ts(kFirst - 100)), absl::FromUnixSeconds(kFirst));
}

}  // namespace
}  // namespace centric::runtime

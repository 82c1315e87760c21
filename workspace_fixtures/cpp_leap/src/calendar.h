#pragma once

namespace calendar {

// Whether `year` is a leap year in the Gregorian calendar.
bool is_leap(int year);

// The number of days in `month` (1-12) of `year`.
int days_in_month(int year, int month);

}  // namespace calendar

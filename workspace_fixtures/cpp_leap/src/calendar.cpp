#include "calendar.h"

namespace calendar {

bool is_leap(int year) {
    return year % 4 == 0 && year % 100 != 0;
}

int days_in_month(int year, int month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && is_leap(year)) {
        return 29;
    }
    return days[month - 1];
}

}  // namespace calendar

#include "check.h"
#include "calendar.h"

int main() {
    CHECK(calendar::is_leap(2024));
    CHECK(!calendar::is_leap(2023));
    CHECK(!calendar::is_leap(1900));
    CHECK(calendar::is_leap(2000));
    return failures == 0 ? 0 : 1;
}

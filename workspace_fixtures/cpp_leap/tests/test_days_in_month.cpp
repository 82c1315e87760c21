#include "check.h"
#include "calendar.h"

int main() {
    CHECK(calendar::days_in_month(2023, 1) == 31);
    CHECK(calendar::days_in_month(2023, 2) == 28);
    CHECK(calendar::days_in_month(2024, 2) == 29);
    CHECK(calendar::days_in_month(2023, 11) == 30);
    return failures == 0 ? 0 : 1;
}

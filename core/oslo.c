#include "oslo.h"

#include <stddef.h>
#include <stdio.h>


/* Howard Hinnant's days_from_civil and civil_from_days: the proleptic Gregorian calendar. */
int64_t oslo_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void oslo_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

int oslo_days_in_month(int y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

/* 0 = Monday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days) { return (int)((days % 7 + 10) % 7); }

/* The last Sunday of month m of year y at 01:00 UTC: when EU summer time starts and ends. */
static int64_t last_sunday_0100(int y, int m)
{
    int64_t day = oslo_days_from_civil(y, m, oslo_days_in_month(y, m));
    return (day - (weekday(day) + 1) % 7) * 86400 + 3600;
}

int oslo_offset(int64_t t)
{
    int y, m, d;
    oslo_civil_from_days(floor_div(t, 86400), &y, &m, &d);
    return t >= last_sunday_0100(y, 3) && t < last_sunday_0100(y, 10) ? 7200 : 3600;
}

struct oslo_time oslo_local(int64_t t)
{
    struct oslo_time lt;
    int64_t l = t + oslo_offset(t);
    int64_t days = floor_div(l, 86400), secs = l - days * 86400;
    oslo_civil_from_days(days, &lt.year, &lt.month, &lt.day);
    lt.weekday = weekday(days);
    lt.hour = (int)(secs / 3600);
    lt.minute = (int)(secs % 3600 / 60);
    lt.second = (int)(secs % 60);
    return lt;
}

int64_t oslo_from_local(int y, int m, int d, int hour, int minute)
{
    int64_t wall = oslo_days_from_civil(y, m, d) * 86400 + hour * 3600 + minute * 60;
    /* Summer time first: right unless the wall time falls outside it. */
    int64_t t = wall - 7200;
    if (oslo_offset(t) == 7200)
        return t;
    return wall - 3600;
}

/* Easter Sunday (the anonymous Gregorian algorithm), as days since the epoch. */
static int64_t easter(int y)
{
    int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4, f = (b + 8) / 25;
    int g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30, i = c / 4, k = c % 4;
    int l = (32 + 2 * e + 2 * i - h - k) % 7, m = (a + 11 * h + 22 * l) / 451;
    int month = (h + l - 7 * m + 114) / 31, day = (h + l - 7 * m + 114) % 31 + 1;
    return oslo_days_from_civil(y, month, day);
}

int oslo_is_holiday(int y, int m, int d)
{
    if ((m == 1 && d == 1) || (m == 5 && (d == 1 || d == 17)) || (m == 12 && (d == 25 || d == 26)))
        return 1;
    static const int from_easter[] = {-3, -2, 1, 39, 50};   /* Maundy Thursday ... Whit Monday */
    int64_t day = oslo_days_from_civil(y, m, d), e = easter(y);
    for (size_t i = 0; i < sizeof from_easter / sizeof from_easter[0]; i++)
        if (day == e + from_easter[i])
            return 1;
    return 0;
}

int oslo_is_workday(int y, int m, int d)
{
    return weekday(oslo_days_from_civil(y, m, d)) < 5 && !oslo_is_holiday(y, m, d);
}

void oslo_wall(int64_t t, char out[17])
{
    struct oslo_time lt = oslo_local(t);
    snprintf(out, 17, "%04u-%02u-%02uT%02u:%02u", (unsigned)lt.year % 10000u,
             (unsigned)lt.month % 100u, (unsigned)lt.day % 100u, (unsigned)lt.hour % 100u,
             (unsigned)lt.minute % 100u);
}

void oslo_month(int64_t t, char out[8])
{
    struct oslo_time lt = oslo_local(t);
    int y = lt.year % 10000;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + lt.month / 10);
    out[6] = (char)('0' + lt.month % 10);
    out[7] = '\0';
}

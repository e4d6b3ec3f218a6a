/* oslo: the Norwegian calendar. Civil dates, Norwegian time (Europe/Oslo: CET, CEST from the
 * last Sunday of March to the last Sunday of October, 01:00 UTC), weekdays and the public
 * holidays, so that courses are shown in local time and jobs keep to working days. Pure
 * functions, callable from any thread.
 */
#ifndef EVNE_OSLO_H
#define EVNE_OSLO_H

#include <stdint.h>

struct oslo_time {
    int year, month, day;       /* month 1-12, day 1-31 */
    int weekday;                /* 0 = Monday ... 6 = Sunday */
    int hour, minute, second;
};

/* Days since 1970-01-01 of a civil date, and back. */
int64_t oslo_days_from_civil(int y, int m, int d);
void oslo_civil_from_days(int64_t days, int *y, int *m, int *d);
int oslo_days_in_month(int y, int m);

/* The offset of Norwegian time from UTC at t (unix seconds): 3600 or 7200. */
int oslo_offset(int64_t t);
/* t in Norwegian time. */
struct oslo_time oslo_local(int64_t t);
/* The unix time of a Norwegian wall-clock time. A time that does not exist (in the hour skipped
 * in March) is taken as the same time in winter time (an hour later on the clock); one that exists
 * twice (October) is the first of the two. */
int64_t oslo_from_local(int y, int m, int d, int hour, int minute);

/* Whether a date is a Norwegian public holiday (New Year, Maundy Thursday, Good Friday, Easter
 * Monday, 1 and 17 May, Ascension, Whit Monday, Christmas Day and Boxing Day; Sundays are not
 * listed), and whether it is a working day (Monday to Friday and not a holiday). */
int oslo_is_holiday(int y, int m, int d);
int oslo_is_workday(int y, int m, int d);

/* "2026-12-03T09:00": t as Norwegian wall-clock time, into out (at least 17 bytes). The pages
 * show such a string with their date() helper and its hour (its characters 12-16). */
void oslo_wall(int64_t t, char out[17]);

/* "2026-11": the month of t in Norwegian time, into out (at least 8 bytes). */
void oslo_month(int64_t t, char out[8]);

#endif

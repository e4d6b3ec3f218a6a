/* Pages for the adviser's reports and people search (see web.h). */
#include "router.h"
#include "web.h"

const struct route page_reports_routes[] = {
    {"GET", "/reports-pages-not-yet", page_home, 0},
};
const size_t page_reports_nroutes = sizeof page_reports_routes / sizeof page_reports_routes[0];

/* Pages (see web.h). */
#include "router.h"
#include "web.h"

const struct route page_courses_routes[] = {
    {"GET", "/courses-pages-not-yet", page_home, 0},
};
const size_t page_courses_nroutes = sizeof page_courses_routes / sizeof page_courses_routes[0];

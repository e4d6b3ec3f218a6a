/* Pages for the adviser (see web.h). */
#include "router.h"
#include "web.h"

const struct route page_adviser_routes[] = {
    {"GET", "/adviser-pages-not-yet", page_home, 0},
};
const size_t page_adviser_nroutes = sizeof page_adviser_routes / sizeof page_adviser_routes[0];

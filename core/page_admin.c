/* Pages for the admin (see web.h). */
#include "router.h"
#include "web.h"

const struct route page_admin_routes[] = {
    {"GET", "/admin-pages-not-yet", page_home, 0},
};
const size_t page_admin_nroutes = sizeof page_admin_routes / sizeof page_admin_routes[0];

/* Pages (see web.h). */
#include "router.h"
#include "web.h"

const struct route page_learning_routes[] = {
    {"GET", "/learning-pages-not-yet", page_home, 0},
};
const size_t page_learning_nroutes = sizeof page_learning_routes / sizeof page_learning_routes[0];

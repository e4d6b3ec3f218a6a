/* Pages for the team (see web.h). */
#include "router.h"
#include "web.h"

const struct route page_team_routes[] = {
    {"GET", "/team-pages-not-yet", page_home, 0},
};
const size_t page_team_nroutes = sizeof page_team_routes / sizeof page_team_routes[0];

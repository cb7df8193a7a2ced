// The one doctest main of the suite; every tests/<folder>/*.cpp links against it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

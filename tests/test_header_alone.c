/* test_header_alone.c - the public header compiles on its own, first. */
#include "gainmap.h"
#include "check.h"

int main(void)
{
    gainmap_image img = {0};
    gainmap_metadata meta = {0};
    CHECK_INT(img.width, 0);
    CHECK_INT(meta.channel_count, 0);
    CHECK_INT(GAINMAP_VERSION_NUMBER, (GAINMAP_VERSION_MAJOR << 16) | (GAINMAP_VERSION_MINOR << 8) | GAINMAP_VERSION_PATCH);
    TEST_SUMMARY();
}

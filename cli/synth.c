/* Synthetic residents (see synth.h). */
#include <stdio.h>
#include <string.h>

#include "synth.h"

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                       "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗",
                                       "欧阳", "司马", "诸葛"};
static const char *const given[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋",
                                    "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平",
                                    "刚", "桂英", "建华", "晓东", "雨欣", "子涵", "浩然", "思远"};
static const char *const communities[] = {"changzheng", "hushu"};
static const char *const community_names[] = {"长征社区", "湖墅社区"};
static const char *const roads[] = {"长征路", "中河北路", "湖墅南路", "大关路", "小河路"};
static const char *const conditions[] = {"", "", "", "", "高血压", "糖尿病", "哮喘", "慢性胃炎"};

/* splitmix64: small, fast, good enough for synthetic data. */
static uint64_t next(synth *g)
{
    uint64_t z = (g->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static unsigned pick(synth *g, unsigned n)
{
    return (unsigned)(next(g) % n);
}

void synth_init(synth *g, uint64_t seed)
{
    g->state = seed;
}

char synth_id_check(const char *first17)
{
    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char codes[] = "10X98765432";
    int i, sum = 0;

    for (i = 0; i < 17; i++)
        sum += (first17[i] - '0') * weights[i];
    return codes[sum % 11];
}

void synth_resident_make(synth *g, synth_resident *r)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    /* Narrow types tell the compiler the printed widths (4, 2, 2, 3 digits). */
    unsigned short year = (unsigned short)(1935 + pick(g, 85));
    unsigned char month = (unsigned char)(1 + pick(g, 12));
    unsigned char day = (unsigned char)(1 + pick(g, mdays[month - 1]));
    unsigned short seq = (unsigned short)pick(g, 1000);
    unsigned community = pick(g, 2), grid = 1 + pick(g, 8);
    static const char *const prefixes[] = {"138", "139", "137", "150", "151", "158", "186", "188", "199"};
    char first17[18];

    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s%s", surnames[pick(g, 23)], given[pick(g, 28)]);
    snprintf(r->gender, sizeof r->gender, "%s", seq % 2 ? "男" : "女");
    snprintf(r->birth_date, sizeof r->birth_date, "%04hu-%02hhu-%02hhu", year, month, day);
    snprintf(first17, sizeof first17, "330102%04hu%02hhu%02hhu%03hu", year, month, day, seq);
    snprintf(r->id_number, sizeof r->id_number, "%s%c", first17, synth_id_check(first17));
    snprintf(r->phone, sizeof r->phone, "%s%08u", prefixes[pick(g, 9)], (unsigned)(next(g) % 100000000u));
    snprintf(r->address, sizeof r->address, "浙江省杭州市拱墅区小河街道%s%s%u号%u单元%u室",
             community_names[community], roads[pick(g, 5)], 1 + pick(g, 300), 1 + pick(g, 6),
             101 + pick(g, 18) * 100 + pick(g, 4));
    snprintf(r->jurisdiction, sizeof r->jurisdiction, "hangzhou/gongshu/xiaohe/%s/grid-%02u",
             communities[community], grid);
    snprintf(r->health, sizeof r->health, "%s", conditions[pick(g, 8)]);
    snprintf(r->disability, sizeof r->disability, "%s", pick(g, 20) == 0 ? "肢体二级" : "");
}

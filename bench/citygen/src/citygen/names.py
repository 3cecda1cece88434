"""Fixed name lists: real county and township names of Zhangye, synthetic everything else."""

from __future__ import annotations

import random

CITY_CODE = "620700"
CITY_NAME = "张掖市"
PROVINCE_CODE = "620000"

# county code -> (name, short name, townships in statistical-code order)
COUNTIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "620702": (
        "甘州区",
        "甘州",
        (
            "东街街道",
            "南街街道",
            "西街街道",
            "北街街道",
            "火车站街道",
            "梁家墩镇",
            "上秦镇",
            "大满镇",
            "沙井镇",
            "乌江镇",
            "甘浚镇",
            "新墩镇",
            "党寨镇",
            "碱滩镇",
            "三闸镇",
            "小满镇",
            "明永镇",
            "长安镇",
            "龙渠乡",
            "安阳乡",
            "花寨乡",
            "靖安乡",
            "平山湖蒙古族乡",
        ),
    ),
    "620721": (
        "肃南裕固族自治县",
        "肃南",
        ("红湾寺镇", "皇城镇", "康乐镇", "马蹄藏族乡", "白银蒙古族乡", "大河乡", "明花乡", "祁丰藏族乡"),
    ),
    "620722": (
        "民乐县",
        "民乐",
        ("洪水镇", "六坝镇", "新天镇", "南古镇", "永固镇", "三堡镇", "南丰镇", "民联镇", "顺化镇", "丰乐镇"),
    ),
    "620723": ("临泽县", "临泽", ("沙河镇", "新华镇", "蓼泉镇", "平川镇", "板桥镇", "鸭暖镇", "倪家营镇")),
    "620724": (
        "高台县",
        "高台",
        ("城关镇", "宣化镇", "南华镇", "巷道镇", "合黎镇", "骆驼城镇", "新坝镇", "黑泉镇", "罗城镇"),
    ),
    "620725": (
        "山丹县",
        "山丹",
        ("清泉镇", "位奇镇", "霍城镇", "陈户镇", "大马营镇", "东乐镇", "老军乡", "李桥乡"),
    ),
}

# Urban townships: the five streets of Ganzhou and each county seat town. Their
# communities are residents' communities (社区); the others are villages (村).
URBAN_TOWNSHIPS = frozenset(
    {"东街街道", "南街街道", "西街街道", "北街街道", "火车站街道", "红湾寺镇", "洪水镇", "沙河镇", "城关镇", "清泉镇"}
)

COMMUNITY_WORDS: tuple[str, ...] = (
    "东关", "西关", "南关", "北关", "新乐", "和平", "青年", "劳动", "民主", "长寿",
    "南湖", "西湖", "北环", "金安", "银河", "丽都", "滨河", "玉水", "泉源", "文化",
    "红旗", "胜利", "团结", "光明", "幸福", "前进", "永丰", "新建", "兴隆", "庆丰",
    "东升", "西洞", "沙河", "柳树", "杨家", "王家", "李家", "马家", "高家", "张家",
    "三闸", "五里", "十里", "二坝", "四坝", "六闸", "上堡", "下堡", "中庄", "新庄",
    "古城", "营盘", "河西", "甘泉", "明水", "黑河", "祁连", "焉支", "龙首", "花园",
    "顺德", "安康", "富强", "平安", "康宁", "吉祥", "丰泽", "润泉", "瑞安", "春光",
)  # fmt: skip

SURNAMES: tuple[str, ...] = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
    "胡", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯",
)  # fmt: skip

GIVEN_NAMES: tuple[str, ...] = (
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
    "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "辉", "玉兰",
    "红", "建国", "丹", "斌", "萍", "鹏", "华", "建军", "玲", "飞", "俊", "慧", "海燕",
)  # fmt: skip

CAMERA_SPOTS: tuple[str, ...] = (
    "东门", "西门", "南门", "北门", "广场", "路口", "停车场", "主干道", "楼道口", "文化站",
    "卫生室", "学校门口", "农贸市场", "健身区", "河道", "桥头", "村委会", "服务中心",
)  # fmt: skip

CAMERA_MODELS: tuple[tuple[str, str], ...] = (
    ("Hikvision", "DS-2CD3T47WD-L"),
    ("Hikvision", "DS-2DE4425IW-DE"),
    ("Dahua", "DH-IPC-HFW2431S"),
    ("Dahua", "DH-SD49425XB-HNR"),
    ("Uniview", "IPC2124LB-SF40"),
)

NVR_MODELS: tuple[tuple[str, str], ...] = (
    ("Hikvision", "DS-7932N-R4"),
    ("Dahua", "DHI-NVR5432-4KS2"),
    ("Uniview", "NVR302-32S"),
)


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)


def phone_number(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"

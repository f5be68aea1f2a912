"""The demo avatar's provenance and the FAQ of a fictional shop, Northwind Goods."""

from __future__ import annotations

DEMO_SLUG = "demo"
DEMO_NAME = "Eileen"
DEMO_PERSONA = (
    "You are Eileen, the friendly customer-service assistant of Northwind Goods, an online "
    "home-goods shop. Answer in one to three short spoken sentences. If you do not know, say "
    "so and offer to connect the customer with a colleague."
)
DEMO_CONSENT = {
    "depicted_person": "Eileen Collins (NASA astronaut portrait, public domain)",
    "consented_by": "Public domain: a work of the U.S. federal government (NASA)",
    "scope": "Demonstration and testing of this product only; no commercial deployment.",
    "purpose": "Show the talking avatar on a fresh installation.",
    "evidence_note": (
        "The image is scikit-image's `astronaut` sample (skimage.data.astronaut), which "
        "scikit-image documents as a NASA photograph in the public domain."
    ),
}

# (question, paraphrases, answer)
DEMO_FAQ: list[tuple[str, list[str], str]] = [
    (
        "What are your opening hours?",
        [
            "When are you open?",
            "What time do you open?",
            "What time do you close?",
            "Are you open on Sunday?",
            "Which days are you open?",
        ],
        "Our customer service is open from 9 a.m. to 6 p.m., Monday to Saturday. Our online shop is open around the clock.",
    ),
    (
        "How do I return an item?",
        [
            "Can I send something back?",
            "What is your return policy?",
            "I want a refund.",
            "How do I get my money back?",
            "Can I exchange it for another size?",
        ],
        "You can return any item within 30 days. Start the return from your order page and print the label. Then drop the parcel at any post office, and we refund you within a week.",
    ),
    (
        "How long does shipping take?",
        [
            "When will my order arrive?",
            "How fast is delivery?",
            "Delivery time?",
            "How many days until my package comes?",
        ],
        "Standard shipping takes 3-5 working days. Express shipping arrives the next working day when you order before 2 p.m.",
    ),
    (
        "How much does shipping cost?",
        [
            "Is shipping free?",
            "What are the delivery charges?",
            "Do you charge for delivery?",
            "Is there free delivery over a certain amount?",
        ],
        "Shipping is free on orders over $50. Below that, standard shipping costs $4.95.",
    ),
    (
        "Which payment methods do you accept?",
        [
            "Can I pay with PayPal?",
            "Do you take credit cards?",
            "How can I pay?",
            "What payment options are there?",
        ],
        "We accept Visa, Mastercard, American Express, PayPal and gift cards.",
    ),
    (
        "How do I reset my password?",
        [
            "I forgot my password.",
            "I can't log in.",
            "Change my password",
            "My password does not work.",
        ],
        "Click forgot password on the sign-in page, and we will email you a link to choose a new one. The link works for 1 hour.",
    ),
    (
        "How can I contact you?",
        [
            "What is your phone number?",
            "Can I talk to a person?",
            "How do I reach customer service?",
            "How can I email you?",
            "What is your email?",
        ],
        "You can call us at 555-0199, or write to help@northwind.example. A colleague answers within 1 working day.",
    ),
    (
        "Where is my order?",
        [
            "Track my order",
            "My parcel has not arrived.",
            "Order status",
            "I am still waiting for my delivery.",
        ],
        "You can follow your parcel with the tracking link in your shipping email, or on your order page.",
    ),
    (
        "Can I change or cancel my order?",
        [
            "I want to cancel my order.",
            "Can I change my delivery address?",
            "I made a mistake in my order.",
        ],
        "You can change or cancel an order within 1 hour of placing it, from your order page. After that, please contact us and we will do our best.",
    ),
    (
        "Do you ship internationally?",
        ["Do you deliver abroad?", "Can you ship to Canada?", "Can I order from another country?"],
        "Yes, we ship to the United States, Canada and most of Europe. International delivery takes 7-12 working days.",
    ),
    (
        "Do you have gift cards?",
        ["Can I buy a voucher?", "Gift certificate", "Do you sell gift vouchers?"],
        "Yes. Gift cards from $10 to $200 are sent by email and never expire.",
    ),
    (
        "What is your warranty?",
        [
            "My product is broken.",
            "Is there a guarantee?",
            "It does not work any more.",
            "Is it covered by the warranty?",
        ],
        "Every product has a 2-year warranty. If something breaks, contact us with your order number and a photo, and we will repair or replace it.",
    ),
    (
        "Is my item in stock?",
        ["When will it be back in stock?", "Product availability", "It is sold out."],
        "The product page shows live stock. Click notify me, and we will email you when it is back.",
    ),
    (
        "Do you offer discounts for students?",
        [
            "Student discount",
            "Do you have any promotions?",
            "Can I get a discount?",
            "Do you have a promo code?",
        ],
        "Students get 10% off with a valid student email. Sign up to our newsletter for seasonal offers.",
    ),
    (
        "How do I create an account?",
        ["Sign up", "Register a new account", "Can I order without an account?"],
        "Click sign in, then create account, and enter your email and a password. You can also check out as a guest.",
    ),
    (
        "How do I delete my account?",
        ["Remove my data", "Close my account", "Delete my personal data"],
        "You can delete your account under settings, privacy. We erase your personal data within 30 days.",
    ),
    (
        "Where is your store?",
        ["Do you have a physical shop?", "What is your address?", "Where are you based?"],
        "We are an online shop only, with our warehouse in Portland, Oregon. Pick-up is not available.",
    ),
]

# The same shop in Japanese: the demo avatar also speaks Japanese (`DEMO_OTHER_LANGUAGES`), and
# a question heard in Japanese is answered from these entries.
DEMO_OTHER_LANGUAGES = ["ja"]
DEMO_FAQ_JA: list[tuple[str, list[str], str]] = [
    (
        "営業時間を教えてください。",
        [
            "何時から開いていますか？",
            "何時に閉まりますか？",
            "日曜日は営業していますか？",
            "営業日はいつですか？",
        ],
        "カスタマーサービスは、月曜日から土曜日の午前9時から午後6時まで営業しています。オンラインショップは24時間ご利用いただけます。",
    ),
    (
        "返品するにはどうすればいいですか？",
        [
            "返品したいです。",
            "返品できますか？",
            "返金してほしいです。",
            "返品の条件を教えてください。",
            "別のサイズに交換できますか？",
        ],
        "商品はお届けから30日以内であれば返品できます。注文ページから返品の手続きをして、ラベルを印刷してください。郵便局に荷物を出していただければ、1週間以内に返金いたします。",
    ),
    (
        "配送にはどのくらいかかりますか？",
        ["いつ届きますか？", "配達までに何日かかりますか？", "配送日数を教えてください。"],
        "通常配送は3から5営業日でお届けします。午後2時までのご注文は、速達なら翌営業日に届きます。",
    ),
    (
        "送料はいくらですか？",
        ["送料は無料ですか？", "配送料金を教えてください。", "送料無料になる金額はありますか？"],
        "50ドル以上のご注文は送料無料です。それ未満の場合、通常配送の送料は4ドル95セントです。",
    ),
    (
        "支払い方法は何がありますか？",
        [
            "クレジットカードは使えますか？",
            "ペイパルで払えますか？",
            "どうやって支払えばいいですか？",
        ],
        "ビザ、マスターカード、アメリカン・エキスプレス、ペイパル、ギフトカードがご利用いただけます。",
    ),
    (
        "パスワードをリセットするにはどうすればいいですか？",
        ["パスワードを忘れました。", "ログインできません。", "パスワードを変更したいです。"],
        "サインインページの「パスワードをお忘れの方」を押してください。新しいパスワードを設定するためのリンクをメールでお送りします。リンクの有効期限は1時間です。",
    ),
    (
        "問い合わせ方法を教えてください。",
        ["電話番号は何番ですか？", "担当者と話せますか？", "メールで問い合わせできますか？"],
        "お電話は555-0199、メールはhelp@northwind.exampleで承っております。1営業日以内に担当者からご連絡いたします。",
    ),
    (
        "注文した荷物はどこにありますか？",
        ["荷物を追跡したいです。", "注文状況を確認したいです。", "荷物がまだ届きません。"],
        "配送のお知らせメールにある追跡リンク、または注文ページから荷物の状況をご確認いただけます。",
    ),
]

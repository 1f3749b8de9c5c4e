from django.apps import AppConfig


class GoodwillConfig(AppConfig):
    name = "goodwill.django"
    label = "goodwill"
    verbose_name = "goodwill"

"""The kiosk's sounds (placeholder until generated tones land): silent."""


class Sound:
    @classmethod
    def open(cls):
        return None

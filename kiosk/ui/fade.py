"""The fade between screens: Kivy's own cross-fade, with its set-up done once instead of per fade.

Kivy's FadeTransition draws both screens into off-screen buffers and blends them with a shader,
which gives a true cross-fade (each screen fades as one picture). But it makes two new
full-screen buffers and compiles its shader again for every fade, and that set-up made the first
frame of each fade the slowest frame the kiosk draws (twice the 16.7 ms budget in software GL).
Here the buffers and the shader are made once and the screens' drawings are moved in and out.
"""

from __future__ import annotations

from kivy.graphics import (
    BindTexture,
    ClearBuffers,
    ClearColor,
    Fbo,
    PopMatrix,
    PushMatrix,
    Rectangle,
    RenderContext,
    Translate,
)
from kivy.uix.screenmanager import FadeTransition


class ReusedFade(FadeTransition):
    """A FadeTransition whose buffers and shader live as long as the screen manager's size."""

    def __init__(self, *, background, **kwargs):
        super().__init__(**kwargs)
        self.background = tuple(background)
        self._size: tuple[int, int] | None = None

    def _make(self, size: tuple[int, int]) -> None:
        def buffer() -> Fbo:
            fbo = Fbo(size=size)  # no stencil: no screen here clips with one
            with fbo:
                ClearColor(*self.background)
                ClearBuffers()
            with fbo.before:
                PushMatrix()
                shifts.append(Translate())
            with fbo.after:
                PopMatrix()
            return fbo

        shifts: list[Translate] = []
        self._size = size
        self.fbo_out, self.fbo_in = buffer(), buffer()
        self._shifts = shifts
        self.render_ctx = RenderContext(fs=self.fs, vs=self.vs, use_parent_modelview=True,
                                        use_parent_projection=True)
        with self.render_ctx:
            BindTexture(texture=self.fbo_out.texture, index=1)
            BindTexture(texture=self.fbo_in.texture, index=2)
            self._picture = Rectangle(size=size, tex_coords=self.fbo_in.texture.tex_coords)
        self.render_ctx["tex_out"] = 1
        self.render_ctx["tex_in"] = 2

    def add_screen(self, screen):
        manager, out = self.manager, self.screen_out
        size = (int(manager.width), int(manager.height))
        if size != self._size:
            self._make(size)
        screen.pos, screen.size = out.pos, out.size
        manager.real_remove_widget(out)
        # The screens draw into the buffers from their corner, and the blend goes where they were.
        for shift in self._shifts:
            shift.xy = (-out.x, -out.y)
        for fbo, drawn in ((self.fbo_out, out), (self.fbo_in, screen)):
            fbo.add(drawn.canvas)
        self._picture.pos = out.pos
        self.render_ctx["t"] = 0.0
        # The first frame shows the old screen alone (t = 0), so it draws only that into its
        # buffer; the new screen is drawn into its own from the next frame on. The two
        # screens' drawing is spread over two frames instead of making one frame twice as slow.
        manager.canvas.add(self.fbo_out)
        manager.canvas.add(self.render_ctx)

    def on_progress(self, progress):
        canvas = self.manager.canvas
        if progress > 0 and self.fbo_in not in canvas.children:
            canvas.insert(canvas.indexof(self.render_ctx), self.fbo_in)
        super().on_progress(progress)

    def remove_screen(self, screen):
        manager = self.manager
        for instruction in (self.fbo_in, self.fbo_out, self.render_ctx):
            if instruction in manager.canvas.children:
                manager.canvas.remove(instruction)
        self.fbo_out.remove(self.screen_out.canvas)
        self.fbo_in.remove(self.screen_in.canvas)
        manager.real_add_widget(self.screen_in)
